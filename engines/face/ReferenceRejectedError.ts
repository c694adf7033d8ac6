/** Why a reference image was refused. */
export type ReferenceRejectCode = 'too_large' | 'not_an_image' | 'no_face' | 'face_too_small';

/** A reference image that cannot become a portrait; the server maps `too_large` to 413 and the rest to 422. */
export class ReferenceRejectedError extends Error {
  override readonly name = 'ReferenceRejectedError';
  /** Machine-readable reason. */
  readonly code: ReferenceRejectCode;

  constructor(code: ReferenceRejectCode, message: string) {
    super(message);
    this.code = code;
  }
}
