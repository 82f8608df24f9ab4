import type { Request } from 'express';
import { ApiError } from '../common/api-exceptions';

/**
 * The CSV body as a byte stream, checked on the way: Content-Type text/csv, Content-Length (when given) and the
 * bytes actually read against the limit. Nothing is buffered: the import reads lines as they arrive.
 */
export function csvUpload(req: Request, maxBytes: number): AsyncIterable<Buffer> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'text/csv') {
    throw new ApiError(415, 'unsupported_media_type', 'send the file with Content-Type: text/csv', {
      field: 'Content-Type',
    });
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  return limited(req, maxBytes);
}

async function* limited(source: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    yield chunk;
  }
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'payload_too_large', `the file is larger than ${Math.round(maxBytes / 1048576)} MB`, {
    limitBytes: maxBytes,
  });
}
