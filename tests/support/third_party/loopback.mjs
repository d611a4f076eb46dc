// Preloaded into the third-party servers (`node --import`): whatever address a server asks for, it
// listens on 127.0.0.1 only, reports each port it got on stderr ("LISTENING PORT"), and exits when
// the test that started it is gone (its parent process changed), so none outlives a test run.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "object" && args[0] !== null) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  } else {
    args = [args[0], "127.0.0.1", ...args.slice(1).filter((a) => typeof a === "function")];
  }
  this.once("listening", () => process.stderr.write(`LISTENING ${this.address().port}\n`));
  return listen.apply(this, args);
};

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();
