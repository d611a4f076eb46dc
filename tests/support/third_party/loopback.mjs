// Preloaded into the third-party servers (`node --import`): whatever address a server asks for, it
// listens on 127.0.0.1 only, reports each port it got on stderr ("LISTENING PORT"), and exits when
// the test that started it is gone (its parent process changed), so none outlives a test run.
// LOOPBACK_ANY_PORT=1: a port of the system's choosing instead of the fixed one the server asks for
// (the SDK's examples hard-code 3000/3001, which other programs on the machine may hold).
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const any = process.env.LOOPBACK_ANY_PORT === "1";
  if (typeof args[0] === "object" && args[0] !== null) {
    args[0] = { ...args[0], host: "127.0.0.1", ...(any ? { port: 0 } : {}) };
  } else {
    const port = any ? 0 : args[0];
    args = [port, "127.0.0.1", ...args.slice(1).filter((a) => typeof a === "function")];
  }
  this.once("listening", () => process.stderr.write(`LISTENING ${this.address().port}\n`));
  return listen.apply(this, args);
};

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
