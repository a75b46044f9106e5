import type http from 'node:http';

/** How long and how much of a refused body is read and dropped after the answer. */
export interface LingerBounds {
  /** Bytes read after the answer before the connection is cut. */
  bytes: number;
  /** Time after the answer before the connection is cut, however fast the client sends. */
  totalMs: number;
  /** Time without a byte from the client before the connection is cut. */
  idleMs: number;
}

/**
 * nginx's lingering close: 30 s in all (lingering_time), 5 s without a byte (lingering_timeout). The bytes
 * scale with the upload limit, so that a photo ten times too large still reads its 413.
 */
export function defaultLingerBounds(maxUploadBytes: number): LingerBounds {
  return { bytes: Math.max(32 * 1024 * 1024, 16 * maxUploadBytes), totalMs: 30_000, idleMs: 5_000 };
}

/**
 * A request answered before its body had all arrived (a refused upload, a 401 before the photo): the rest
 * is read and dropped, so that a client still sending finishes its write and reads the answer instead of
 * meeting a reset; once the body has ended, the connection serves the next request. Past `bytes`,
 * `totalMs`, or `idleMs` without a byte, the connection is cut. It starts as the answer's last byte is
 * handed to the socket ('prefinish'), before node would drop the body unread and uncounted.
 */
export function lingerAfterAnswer(req: http.IncomingMessage, res: http.ServerResponse, bounds: LingerBounds) {
  res.once('prefinish', () => {
    if (req.complete || req.destroyed) return;
    let read = 0;
    const cut = () => {
      stop();
      req.socket.destroy();
    };
    const total = setTimeout(cut, bounds.totalMs);
    const idle = setTimeout(cut, bounds.idleMs);
    const count = (chunk: Buffer) => {
      read += chunk.length;
      if (read > bounds.bytes) cut();
      else idle.refresh();
    };
    const stop = () => {
      clearTimeout(total);
      clearTimeout(idle);
      req.off('data', count).off('end', stop).off('close', stop);
    };
    req.on('data', count).once('end', stop).once('close', stop);
    req.resume();
  });
}
