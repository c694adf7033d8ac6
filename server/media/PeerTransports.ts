import type { RTCPeerConnection } from 'werift';

type DtlsTransport = RTCPeerConnection['dtlsTransports'][number];

/**
 * Remembers every DTLS/ICE transport a peer connection creates, so close() can stop them all.
 * werift 0.25 re-points transceivers to the BUNDLE transport during negotiation and its close()
 * stops only transports still referenced, leaking the UDP sockets of the others (seen here: 6 sockets
 * a call when the offer is not max-bundle, keeping the process alive).
 */
export class PeerTransports {
  private readonly seen = new Set<DtlsTransport>();

  constructor(private readonly pc: RTCPeerConnection) {}

  /** Record the transports that exist now; call after each set*Description. */
  snapshot(): void {
    for (const t of this.pc.dtlsTransports) this.seen.add(t);
  }

  /** Close the peer, then stop every transport it ever had. */
  async close(): Promise<void> {
    this.snapshot();
    await this.pc.close();
    await Promise.allSettled([...this.seen].map((t) => t.stop()));
    this.seen.clear();
  }
}
