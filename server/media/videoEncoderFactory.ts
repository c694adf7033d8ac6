import { InvalidStateError } from '../errors.ts';
import type { EncoderBackend, VideoEncoderFactory } from './VideoEncoder.ts';
import { WebCodecsVideoEncoder } from './WebCodecsVideoEncoder.ts';

/** The `video.encoder` setting: a backend, or 'auto' (libav where node-av loads, else webcodecs). */
export type EncoderSetting = EncoderBackend | 'auto';

/** Why libav cannot be used here, or undefined when it can. node-av is an optional dependency (a 175 MB binary). */
async function libavUnavailable(): Promise<string | undefined> {
  try {
    const { libavEncodersAvailable } = await import('./LibavVideoEncoder.ts');
    return libavEncodersAvailable() ? undefined : "node-av's FFmpeg lacks libx264 or libvpx";
  } catch (err) {
    return `node-av does not load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
}

/** Resolves 'auto'; a backend asked for by name that cannot run is an error naming the reason. */
export async function resolveEncoderBackend(setting: EncoderSetting): Promise<{ backend: EncoderBackend; reason?: string }> {
  if (setting === 'webcodecs') return { backend: 'webcodecs' };
  const reason = await libavUnavailable();
  if (reason === undefined) return { backend: 'libav' };
  if (setting === 'libav') throw new InvalidStateError(`video.encoder is 'libav' but ${reason}; install node-av or set video.encoder: webcodecs`);
  return { backend: 'webcodecs', reason };
}

/** A factory for one backend's encoders (loads node-av only when asked for). */
export async function loadVideoEncoderFactory(backend: EncoderBackend): Promise<VideoEncoderFactory> {
  if (backend === 'webcodecs') return (config) => new WebCodecsVideoEncoder(config);
  const { LibavVideoEncoder } = await import('./LibavVideoEncoder.ts');
  return (config) => new LibavVideoEncoder(config);
}
