import { VigilError } from "../common/errors.ts";

/**
 * The application could not be loaded, its `main` failed or misused the API, or it built a different pipeline
 * when run again. A bad request (INVALID_ARGUMENT), with the application's own error as the cause.
 */
export class ApplicationError extends VigilError {
  constructor(message: string, cause?: unknown) {
    super("INVALID_ARGUMENT", message, { cause });
  }
}
