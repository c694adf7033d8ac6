/** An operation is not valid in the object's current state (e.g. a closed session). */
export class InvalidStateError extends Error {
  override name = 'InvalidStateError';
}

/** The request asks for something this server does not support (e.g. an offer without audio). */
export class UnsupportedError extends Error {
  override name = 'UnsupportedError';
}

/** The server is at capacity; retry after `retryAfterS`. */
export class CapacityError extends Error {
  override name = 'CapacityError';
  constructor(message: string, readonly retryAfterS: number) {
    super(message);
  }
}

/** A thing named by the client does not exist. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** The client's input is malformed or out of bounds; `status` is 400, 413 or 422. */
export class BadInputError extends Error {
  override name = 'BadInputError';
  constructor(message: string, readonly status: 400 | 413 | 415 | 422 = 400) {
    super(message);
  }
}
