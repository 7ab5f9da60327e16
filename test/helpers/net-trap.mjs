// Preloaded into a Node agent (NODE_OPTIONS=--import): every socket it opens to a host other than loopback is
// written to TOLLGATE_NET_TRAP_LOG and refused before it connects. Proxy variables only catch the clients that
// read them; Node's own fetch ignores them, so an agent written for Node is trapped here too, at net.Socket.
import fs from 'node:fs';
import net from 'node:net';

const log = process.env.TOLLGATE_NET_TRAP_LOG;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+|localhost)$/i;
const connect = net.Socket.prototype.connect;

if (log) {
  fs.appendFileSync(log, `load ${process.pid}\n`);
  net.Socket.prototype.connect = function trapped(...args) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const options = typeof first === 'object' && first !== null ? first : { port: first, host: typeof args[1] === 'string' ? args[1] : undefined };
    const host = String(options.host ?? 'localhost').replace(/^\[|\]$/g, '');
    if (options.path !== undefined || LOOPBACK.test(host)) return connect.apply(this, args);
    fs.appendFileSync(log, `connect ${host}:${String(options.port)}\n`);
    const err = Object.assign(new Error(`connect ECONNREFUSED ${host}:${String(options.port)} (refused by the test's network trap)`), { code: 'ECONNREFUSED' });
    process.nextTick(() => this.destroy(err));
    return this;
  };
}
