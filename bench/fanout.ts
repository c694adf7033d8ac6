/**
 * The native fan-out's cost for one viewer and one frame: 5 video packets of 1180 bytes and 2 voice packets,
 * re-stamped, SRTP-protected (each profile WebRTC negotiates) and sent in one sendmmsg to a loopback socket.
 * Measured as this thread's CPU time (the kernel's share of the send included), not wall time.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { RtpHeader, RtpPacket } from 'werift';
import { loadNativeFanout } from '../server/media/NativeFanout.ts';
import { FramePackets, socketFd } from '../server/media/RtpFanout.ts';
import { summarize, type TimingSummary } from './stats.ts';

const PROFILES = [
  ['AES-CM + HMAC-SHA1 (browsers)', 1, 14],
  ['AES-GCM (werift)', 7, 12],
] as const;

export async function benchFanout(frames: number): Promise<Record<string, TimingSummary>> {
  const loaded = loadNativeFanout();
  if (!('module' in loaded)) {
    console.log(`fan-out: not measured, ${loaded.reason}`);
    return {};
  }
  const m = loaded.module;
  const rx = createSocket('udp4');
  const tx = createSocket('udp4');
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => tx.bind(0, '127.0.0.1', () => r()));
  rx.on('message', () => undefined);
  const video = new FramePackets(Array.from({ length: 5 }, (_, i) => new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: i, timestamp: 0, ssrc: 1, marker: i === 4 }), randomBytes(1180))));
  const voice = new FramePackets(Array.from({ length: 2 }, (_, i) => new RtpPacket(new RtpHeader({ payloadType: 111, sequenceNumber: i, timestamp: i * 960, ssrc: 2, marker: false }), randomBytes(80))));
  const out: Record<string, TimingSummary> = {};
  for (const [name, profile, saltLen] of PROFILES) {
    const t = m.createTransport(profile, randomBytes(16 + saltLen));
    m.setTarget(t, socketFd(tx)!, '127.0.0.1', rx.address().port);
    const samples: number[] = [];
    for (let i = 0; i < frames + 10; i++) {
      const c0 = m.threadCpuNs();
      m.send(t, video.wire, 1000, 102, i * 5, i * 3600, voice.wire, 2000, 111, i * 2, i * 1920);
      const ms = (m.threadCpuNs() - c0) / 1e6;
      if (i >= 10) samples.push(ms);
      if (i % 20 === 0) await new Promise((r) => setImmediate(r)); // let the receiver drain
    }
    m.close(t);
    out[`fan-out: one viewer's frame, native, ${name}`] = summarize(samples);
  }
  rx.close();
  tx.close();
  return out;
}
