import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { Landmarks2D, ReferencePortrait, RgbaImage } from '../types.ts';
import type { DetectedFace } from './faceLandmarkerProtocol.ts';
import { framePortrait, landmarksToOutput, type CropTransform } from './portraitCrop.ts';
import { ReferenceRejectedError } from './ReferenceRejectedError.ts';
import { sampleCrop } from './sampleCrop.ts';

/** Anything that finds faces with 468 landmarks (FaceLandmarker, or a fake in tests). */
export interface FaceDetector {
  detect(image: RgbaImage): Promise<DetectedFace[]>;
}

/** Corrects the detected inner lips of a portrait (InnerLipRefiner). */
export interface LipRefiner {
  refine(image: RgbaImage, landmarks: Landmarks2D): Promise<Landmarks2D>;
}

/** Options of ingestReference. */
export interface IngestOptions {
  /** Output portrait size, px. */
  width: number;
  height: number;
  /** Largest accepted encoded image, bytes. */
  maxBytes: number;
  /** Largest accepted decoded image, pixels (width * height). */
  maxPixels: number;
  landmarker: FaceDetector;
  /** Moves the detected inner lips to where they are (absent: the detector's landmarks as they are). */
  lipRefiner?: LipRefiner;
  /** Smallest accepted face box side as a fraction of the image's short side (default 0.15). */
  minFaceFraction?: number;
  /** Images are shrunk to this longest side for the first detection, px (default 1024). */
  detectMaxSide?: number;
  /** Colour behind transparent pixels (default mid grey). */
  background?: { r: number; g: number; b: number };
}

/** SHA-256 of the bytes, lowercase hex (64 chars): a reference's id. */
export function referenceIdOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Turn uploaded image bytes (PNG/JPEG/WebP...) into an aligned portrait of the output size with its
 * 468 landmarks. Throws ReferenceRejectedError (too_large, not_an_image, no_face, face_too_small).
 */
export async function ingestReference(bytes: Uint8Array, opts: IngestOptions): Promise<ReferencePortrait> {
  const { width, height, maxBytes, maxPixels, landmarker, minFaceFraction = 0.15, detectMaxSide = 1024 } = opts;
  const background = opts.background ?? { r: 128, g: 128, b: 128 };
  if (bytes.length > maxBytes) {
    throw new ReferenceRejectedError('too_large', `image is ${bytes.length} bytes, more than the ${maxBytes} allowed`);
  }
  const id = referenceIdOf(bytes);
  const source = await decode(bytes, maxPixels, background);

  const detectScale = Math.min(1, detectMaxSide / Math.max(source.width, source.height));
  const detectImage = detectScale < 1 ? await resizeRgba(source, detectScale) : source;
  const faces = await landmarker.detect(detectImage);
  if (faces.length === 0) throw new ReferenceRejectedError('no_face', 'no face found in the image');
  const face = faces.reduce((best, f) => (f.box.width * f.box.height > best.box.width * best.box.height ? f : best));
  const k = source.width / detectImage.width;
  const boxSide = Math.max(face.box.width, face.box.height) * k;
  const shortSide = Math.min(source.width, source.height);
  if (boxSide < minFaceFraction * shortSide) {
    throw new ReferenceRejectedError('face_too_small', `face is ${Math.round(boxSide)} px, less than ${Math.round(minFaceFraction * 100)}% of the image's ${shortSide} px short side`);
  }
  const sourceLandmarks = face.landmarks.map((v) => v * k);

  let transform = framePortrait(sourceLandmarks, source.width, source.height, { width, height });
  let cropSource = source;
  const scale = Math.hypot(transform.a, transform.b);
  if (scale > 1.25) {
    // Bilinear sampling aliases when shrinking: let sharp do the shrinking, then sample at ~1:1.
    cropSource = await resizeRgba(source, 1 / scale);
    transform = scaleTransform(transform, cropSource.width / source.width);
  }
  const image = sampleCrop(cropSource, transform, width, height);

  // Re-detect on the crop: the face is larger there, so its landmarks are more exact.
  const cropFaces = await landmarker.detect(image);
  const detected = cropFaces.length > 0
    ? cropFaces.reduce((best, f) => (f.box.width * f.box.height > best.box.width * best.box.height ? f : best)).landmarks
    : landmarksToOutput(sourceLandmarks.map((v) => v * (cropSource.width / source.width)), transform);
  const landmarks = opts.lipRefiner ? await opts.lipRefiner.refine(image, detected) : detected;
  return { id, image, landmarks };
}

async function decode(bytes: Uint8Array, maxPixels: number, background: { r: number; g: number; b: number }): Promise<RgbaImage> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' })
      .rotate()
      .flatten({ background })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/pixel limit/i.test(msg)) throw new ReferenceRejectedError('too_large', `image has more than the ${maxPixels} pixels allowed`);
    throw new ReferenceRejectedError('not_an_image', `could not decode the image [${msg}]`);
  }
}

async function resizeRgba(img: RgbaImage, factor: number): Promise<RgbaImage> {
  const w = Math.max(1, Math.round(img.width * factor)), h = Math.max(1, Math.round(img.height * factor));
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } })
    .resize(w, h, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

function scaleTransform(t: CropTransform, k: number): CropTransform {
  return { a: t.a * k, b: t.b * k, tx: t.tx * k, ty: t.ty * k };
}
