import { RTCPeerConnection, useH264, useOPUS, useVP8 } from 'werift';
import { disableDefaultStun } from '../../server/media/noDefaultStun.ts';

type Direction = 'sendrecv' | 'sendonly' | 'recvonly';

/** The shape of an offer: what a microphone caller, a WHIP publisher or a WHEP viewer sends. */
export interface OfferShape {
  audio?: Direction | null;
  video?: Direction | null;
  videoCodecs?: 'h264' | 'vp8' | 'both';
  dataChannel?: boolean;
}

/**
 * A real, gathering-complete werift offer; the peer is closed after. Default: the microphone caller's
 * (audio sendrecv + video recvonly, H.264 and VP8, a 'control' channel).
 */
export async function makeOffer({ audio = 'sendrecv', video = 'recvonly', videoCodecs = 'both', dataChannel = true }: OfferShape = {}): Promise<string> {
  const pc = new RTCPeerConnection({
    codecs: { audio: [useOPUS()], video: videoCodecs === 'both' ? [useH264(), useVP8()] : videoCodecs === 'h264' ? [useH264()] : [useVP8()] },
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
  });
  if (audio) pc.addTransceiver('audio', { direction: audio });
  if (video) pc.addTransceiver('video', { direction: video });
  if (dataChannel) pc.createDataChannel('control');
  disableDefaultStun(pc);
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription!.sdp;
  await pc.close();
  return sdp;
}
