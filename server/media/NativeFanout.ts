import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon built from native/srtp_fanout.c by tools/build-native.mjs. */
export interface NativeFanoutModule {
  /** gso (default true): send runs of equal-sized packets as one UDP GSO datagram; false: one datagram each. */
  createTransport(profile: number, keyAndSalt: Buffer, gso?: boolean): NativeTransportHandle;
  setTarget(t: NativeTransportHandle, fd: number, host: string, port: number): void;
  /**
   * Sends plain RTP packets re-stamped per track: `packets, ssrc, payloadType, seqDelta, tsDelta` once per track
   * (up to 4), all in one sendmmsg; returns how many the kernel accepted, counted from the first packet on.
   */
  send(t: NativeTransportHandle, ...tracks: (Buffer[] | number)[]): number;
  /** Protects a plain compound RTCP packet as SRTCP and sends it; 1 when the kernel took it. */
  sendRtcp(t: NativeTransportHandle, compound: Buffer): number;
  /** [packetsSent, bytesSent, sendErrors, protectErrors, gso]: gso 1 while the kernel takes UDP GSO sends. */
  stats(t: NativeTransportHandle): [number, number, number, number, number];
  close(t: NativeTransportHandle): void;
  /** CPU time of the calling thread, ns (CLOCK_THREAD_CPUTIME_ID). */
  threadCpuNs(): number;
}

declare const handleBrand: unique symbol;
export type NativeTransportHandle = { readonly [handleBrand]: true };

export const ADDON_PATH = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'dist', 'native', 'srtp_fanout.node');

let loaded: { module: NativeFanoutModule } | { reason: string } | undefined;

/** The native fan-out, or why it is not there (not built: no libssl-dev or no C compiler at install). */
export function loadNativeFanout(): { module: NativeFanoutModule } | { reason: string } {
  if (loaded) return loaded;
  try {
    loaded = { module: createRequire(import.meta.url)(ADDON_PATH) as NativeFanoutModule };
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? String(err);
    loaded = { reason: `${ADDON_PATH} not loadable (${msg}); build it with \`node tools/build-native.mjs\` after \`apt-get install libssl-dev\`` };
  }
  return loaded;
}
