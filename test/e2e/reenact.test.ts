/**
 * Offline reenactment (`npm run render -- --video`): a real talking clip drives three different portraits; the output
 * is measured by an independent FaceLandmarker against the clip. Needs ../shared/media/real, /usr/bin/chromium, ffmpeg.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaceMeasurer } from '../../eval/measure/FaceMeasurer.ts';
import { alignOffline, faceSeriesOf, type FaceSeries } from '../../eval/reenact/faceSeries.ts';
import { renderFile } from '../../tools/render/renderFile.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const REAL = join(ROOT, '../shared/media/real');
const DRIVER = join(REAL, 'talking/EDTalk__uncrop_Obama.mp4');
const PORTRAITS = [join(ROOT, 'assets/portraits/astronaut.png'), join(REAL, 'portraits/liveportrait_s6.jpg'), join(REAL, 'portraits/sadtalker_art_0.png')];
// The same window as `npm run eval:reenact`.
const SECONDS = 8;
const missing = [DRIVER, ...PORTRAITS].filter((p) => !existsSync(p));

describe('offline reenactment of a talking clip onto three portraits', { timeout: 600_000, skip: missing.length ? `missing ${missing.join(', ')}` : false }, () => {
  let tmp = '';
  let measurer: FaceMeasurer;
  let driver: FaceSeries = [];
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'e2e-reenact-'));
    measurer = await FaceMeasurer.open();
    driver = faceSeriesOf((await measurer.measureVideo(DRIVER, 25)).frames.slice(0, SECONDS * 25));
  });
  after(async () => {
    await measurer?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  for (const portrait of PORTRAITS) {
    test(`${portrait.split('/').pop()}: jaw r >= 0.8, yaw within 3 degrees RMS, the driver's voice muxed in`, async () => {
      const out = join(tmp, `${portrait.split('/').pop()}.mp4`);
      const result = await renderFile({ videoPath: DRIVER, portraitPath: portrait, outPath: out, maxSeconds: SECONDS });
      assert.equal(result.frames, SECONDS * 25);
      const streams = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', out], { encoding: 'utf8' }).trim().split('\n');
      assert.deepEqual(streams.sort(), ['audio', 'video']);
      const ours = faceSeriesOf((await measurer.measureVideo(out, 25)).frames);
      const found = ours.filter((f) => f !== null).length;
      const s = alignOffline(driver, ours);
      console.log(`reenact ${portrait.split('/').pop()}: jaw r ${s.jawR.toFixed(3)} (amplitude ${s.jawAmplitude.toFixed(2)}), yaw RMS ${s.yawRmsDeg.toFixed(2)} deg (driver std ${s.driverYawStd.toFixed(1)}), lag ${s.lag}, face ${found}/${ours.length}`);
      assert.equal(found, ours.length, 'a face in every frame');
      assert.ok(Math.abs(s.lag) <= 1, `in step with the driver (lag ${s.lag} frames)`);
      assert.ok(s.jawR >= 0.8, `jaw r ${s.jawR.toFixed(3)}`);
      assert.ok(s.yawRmsDeg <= 3, `yaw RMS ${s.yawRmsDeg.toFixed(2)} deg`);
    });
  }
});
