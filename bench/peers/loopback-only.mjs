/**
 * Preload (`node --import ./bench/peers/loopback-only.mjs …`) for peers that listen on every
 * interface and have no option to change it (Portkey's gateway calls `serve({ port })`): any TCP
 * listen without a host binds 127.0.0.1 instead, so the bench never exposes a server off-machine.
 */
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const [first, second] = args;
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (second === undefined || second === null) args[1] = '127.0.0.1';
    else if (typeof second !== 'string') args.splice(1, 0, '127.0.0.1');
  } else if (first && typeof first === 'object' && !('path' in first) && !('fd' in first) && !('handle' in first) && !first.host) {
    args[0] = { ...first, host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
