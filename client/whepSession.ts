/**
 * One WHEP playback connection: recvonly video + audio offer (ICE gathering complete, no trickle),
 * POST application/sdp, apply the answer, DELETE the resource when done.
 */
import { bearerHeaders, HttpError, reasonOf, retryAfterOf } from './http.ts';
import { waitForIceGathering } from './iceGathering.ts';

const GATHER_TIMEOUT_MS = 3000;

export interface WhepSession {
  pc: RTCPeerConnection;
  /** The viewer resource (absolute URL); DELETE ends this viewer on the server. */
  resourceUrl: string | null;
  /** Close the peer and DELETE the resource; safe to call twice and from pagehide. */
  close(): void;
}

/**
 * Opens the connection; `onStream` gets a MediaStream holding every track received so far (a fresh stream per
 * track: Chromium does not start playback of a track added to a stream that is already an element's srcObject).
 * Throws HttpError when the server refuses the offer.
 */
export async function openWhepSession(
  endpoint: string,
  token: string | null,
  onStream: (stream: MediaStream) => void,
): Promise<WhepSession> {
  const pc = new RTCPeerConnection();
  let resourceUrl: string | null = null;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    pc.close();
    // keepalive lets the DELETE outlive a page that is being closed.
    if (resourceUrl) void fetch(resourceUrl, { method: 'DELETE', keepalive: true, headers: bearerHeaders(token) }).catch(() => undefined);
  };

  try {
    const tracks: MediaStreamTrack[] = [];
    pc.addEventListener('track', (event) => {
      tracks.push(event.track);
      onStream(new MediaStream(tracks));
    });
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, GATHER_TIMEOUT_MS);

    const res = await fetch(endpoint, {
      method: 'POST',
      headers: bearerHeaders(token, { 'content-type': 'application/sdp' }),
      body: pc.localDescription!.sdp,
    });
    if (res.status !== 201) throw new HttpError(await reasonOf(res), res.status, retryAfterOf(res));
    const location = res.headers.get('location');
    resourceUrl = location ? new URL(location, endpoint).toString() : null;
    const answer = await res.text();
    if (closed) throw new Error('closed while connecting');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  } catch (error) {
    close();
    throw error;
  }
  return {
    pc,
    get resourceUrl() {
      return resourceUrl;
    },
    close,
  };
}
