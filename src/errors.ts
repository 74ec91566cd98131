/** Every error code a user can meet; tests assert on these, never on message text. */
export type ErrorCode =
  | 'USAGE'
  | 'DATASET_NOT_FOUND'
  | 'DATASET_LAYOUT'
  | 'DATASET_READ_ONLY'
  | 'TOO_FEW_CLASSES'
  | 'EMPTY_CLASS'
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_EMPTY'
  | 'IMAGE_TRUNCATED'
  | 'IMAGE_UNSUPPORTED'
  | 'NO_IMAGES'
  | 'CHECKPOINT_NOT_FOUND'
  | 'CHECKPOINT_INVALID'
  | 'CHECKPOINT_INCOMPATIBLE'
  | 'CLASS_COUNT_MISMATCH'
  | 'WEIGHTS_NOT_FOUND'
  | 'BACKEND_UNAVAILABLE'
  | 'ONNX_EXPORT'
  | 'TRAIN_ENGINE_FAILED'
  | 'OPEN_SET_MISSING'
  | 'CANCELLED'
  | 'RUN_EXISTS'
  | 'PATH_NOT_FOUND'
  | 'INTERNAL';

/** The one error type users see: what happened, which file, and what to do about it. */
export class ImgclsError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode,
    readonly file?: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ImgclsError';
  }
}

/** A USAGE error: a bad argument, named with the value received. */
export function usageError(message: string, hint?: string): ImgclsError {
  return new ImgclsError(message, 'USAGE', undefined, hint);
}

/** True when `err` is an ImgclsError, optionally of the given code. */
export function isImgclsError(err: unknown, code?: ErrorCode): err is ImgclsError {
  return err instanceof ImgclsError && (code === undefined || err.code === code);
}
