/**
 * Reads an image's width and height from the header of its bytes (PNG, JPEG, GIF, WebP), as a
 * request carries them in a `data:` URL. Only the first 256 KiB of base64 are decoded: a JPEG whose
 * frame header lies further in (after large metadata) is reported as unknown.
 */
export interface ImageSize {
  width: number;
  height: number;
}

/** Base64 characters decoded at most (256 KiB), enough for any PNG, GIF or WebP header and most JPEGs. */
const MAX_BASE64 = 256 * 1024;

/** The dimensions of a `data:image/...;base64,` URL's image, or undefined (not base64, unknown format, truncated header). */
export function dataUrlImageSize(url: string): ImageSize | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0 || !url.slice(0, comma).endsWith(';base64')) return undefined;
  const b64 = url.slice(comma + 1, comma + 1 + MAX_BASE64);
  return imageSize(Buffer.from(b64.slice(0, b64.length - (b64.length % 4)), 'base64'));
}

/** The dimensions found in an image's first bytes, or undefined. */
export function imageSize(b: Buffer): ImageSize | undefined {
  const ok = (width: number, height: number) => (width > 0 && height > 0 ? { width, height } : undefined);
  // PNG: signature, then the IHDR chunk's width and height (big-endian) at bytes 16 and 20.
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.toString('latin1', 12, 16) === 'IHDR')
    return ok(b.readUInt32BE(16), b.readUInt32BE(20));
  // GIF87a / GIF89a: logical screen width and height (little-endian) at bytes 6 and 8.
  if (b.length >= 10 && b.toString('latin1', 0, 4) === 'GIF8') return ok(b.readUInt16LE(6), b.readUInt16LE(8));
  // WebP: RIFF....WEBP then a VP8, VP8L or VP8X chunk.
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
    const chunk = b.toString('latin1', 12, 16);
    if (chunk === 'VP8 ') return ok(b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff);
    if (chunk === 'VP8L') {
      const bits = b.readUInt32LE(21);
      return ok((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
    }
    if (chunk === 'VP8X') return ok(b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1);
    return undefined;
  }
  // JPEG: walk the segments to the first start-of-frame marker (SOF0–SOF15 but DHT, JPG, DAC).
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return undefined;
      const marker = b[i + 1]!;
      if (marker === 0xff) {
        i += 1;
        continue;
      }
      const length = b.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return ok(b.readUInt16BE(i + 7), b.readUInt16BE(i + 5));
      i += 2 + length;
    }
  }
  return undefined;
}
