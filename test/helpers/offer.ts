import { RTCPeerConnection, useH264, useOPUS, useVP8 } from 'werift';
import { disableDefaultStun } from '../../server/media/noDefaultStun.ts';

/** A real, gathering-complete werift offer (audio sendrecv + video recvonly + 'control' channel); the peer is closed after. */
export async function makeOffer(): Promise<string> {
  const pc = new RTCPeerConnection({
    codecs: { audio: [useOPUS()], video: [useH264(), useVP8()] },
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
  });
  pc.addTransceiver('audio', { direction: 'sendrecv' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.createDataChannel('control');
  disableDefaultStun(pc);
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription!.sdp;
  await pc.close();
  return sdp;
}
