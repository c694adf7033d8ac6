import type { RTCRtpSender } from 'werift';

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970), in ms. */
const NTP_UNIX_OFFSET_MS = 2_208_988_800_000;

interface SenderClockFields {
  packetCount: number;
  ntpTimestamp: bigint;
}

/** The wall clock now as a 64-bit NTP timestamp (32.32 fixed point). */
export function ntpNow(wallMs = performance.timeOrigin + performance.now()): bigint {
  const ms = wallMs + NTP_UNIX_OFFSET_MS;
  const seconds = Math.floor(ms / 1000);
  const fraction = Math.min(2 ** 32 - 1, Math.floor(((ms - seconds * 1000) / 1000) * 2 ** 32));
  return (BigInt(seconds) << 32n) | BigInt(fraction);
}

/**
 * Send one RTP packet and stamp the sender's NTP time of it correctly. werift 0.25's ntpTime() writes the decimal
 * digits of the fraction as an integer into the 32-bit binary fraction, so every sender report claims a whole
 * second: a receiver mapping RTP to NTP through them (as browsers do for lip sync) moves the voice up to a second
 * against the video. werift records the time synchronously when the packet is dispatched and reports it with the
 * packet's RTP timestamp in its next SR, so overwriting it right after the call fixes the pair.
 */
export function sendWithSenderClock(
  sender: RTCRtpSender,
  packet: Parameters<RTCRtpSender['sendRtp']>[0],
  onError: (err: Error) => void,
  /** The send instant as NTP, when the caller sends a burst (a frame to every viewer) within microseconds. */
  ntp?: bigint,
): void {
  const fields = sender as unknown as SenderClockFields;
  const before = fields.packetCount;
  sender.sendRtp(packet).catch(onError);
  if (fields.packetCount !== before) fields.ntpTimestamp = ntp ?? ntpNow();
}
