import type { RTCPeerConnection } from 'werift';

type Address = readonly [string, number];

interface StunProtocolLike {
  datagramReceived(data: Buffer, addr: Address): void;
}

interface IceConnectionLike {
  protocols: StunProtocolLike[];
  checkList: { remoteCandidate: { host: string; port: number } }[];
}

/**
 * werift 0.25 hands every non-STUN datagram that reaches an ICE socket to DTLS/SRTP, whatever its source.
 * Seen here: garbage DTLS-looking datagrams from another local port stalled a healthy session (2 fps).
 * This guard lets STUN through (werift checks its integrity) and other datagrams only from the remote
 * address of a candidate pair: pairs exist only for the peer's signalled candidates and for addresses that
 * passed an authenticated connectivity check. Returns a counter of dropped datagrams.
 */
export function guardMediaSources(pc: RTCPeerConnection): { dropped: () => number } {
  let dropped = 0;
  for (const dtls of pc.dtlsTransports) {
    const connection = dtls.iceTransport.connection as unknown as IceConnectionLike;
    for (const protocol of connection.protocols ?? []) {
      const original = protocol.datagramReceived.bind(protocol);
      protocol.datagramReceived = (data: Buffer, addr: Address) => {
        // RFC 7983 demultiplexing: first byte 0-3 is STUN.
        if (data.length > 0 && data[0]! < 4) return original(data, addr);
        const known = connection.checkList.some((p) => p.remoteCandidate.port === addr[1] && p.remoteCandidate.host === addr[0]);
        if (known) return original(data, addr);
        dropped++;
      };
    }
  }
  return { dropped: () => dropped };
}
