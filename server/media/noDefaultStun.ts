import type { RTCPeerConnection } from 'werift';

interface IceConnectionLike {
  stunServer?: unknown;
}

/**
 * werift 0.25 falls back to a public STUN server (stun.l.google.com) when none is configured, so every
 * peer would look up and contact an outside host, and a machine without network waits on DNS.
 * Call before setLocalDescription (when gathering starts) on a peer configured without STUN servers:
 * it clears the fallback on each ICE connection, so only host candidates are gathered.
 */
export function disableDefaultStun(pc: RTCPeerConnection): void {
  for (const dtls of pc.dtlsTransports) {
    (dtls.iceTransport.connection as unknown as IceConnectionLike).stunServer = undefined;
  }
}

/** True when any configured ICE server is a STUN server. */
export function hasStunServer(iceServers: readonly { urls: string | readonly string[] }[]): boolean {
  return iceServers.some((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).some((u: string) => /^stuns?:/i.test(u)));
}
