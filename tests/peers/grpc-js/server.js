'use strict';
// A real gRPC backend for ClientLb.Grpc.Tests: the greet.Greeter service and grpc.health.v1.Health on @grpc/grpc-js.
//
//   node server.js --name b1 --address 127.0.8.2 [--port 0] [--tls-cert cert.pem --tls-key key.pem]
//
// --max-streams N limits concurrent streams per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS).
// Prints "listening <address>:<port>" once bound. Control commands arrive on stdin, one per line, and each is
// answered on stdout with "ok <command>" (or "error <command>: <reason>"), so tests wait for acknowledgements, not time:
//   health <service|-> SERVING|NOT_SERVING|SERVICE_UNKNOWN   set a Health status ("-" is the server-wide "" service)
//   fail <status> [delay-ms]                                  answer every SayHello with this status (0: serve again)
//   count                                                     prints "count <served> <received>" (SayHello calls) before "ok count"
//   stop                                                      graceful shutdown (GOAWAY, in-flight calls finish), then exit
// The process exits when stdin closes, so a test that dies leaves no server behind.

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function parseArgs(argv) {
  const args = { port: '0' };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    if (!key.startsWith('--') || i + 1 >= argv.length) {
      fail(`argument '${key}' is not '--name value'`);
    }
    args[key.slice(2)] = argv[++i];
  }
  for (const required of ['name', 'address']) {
    if (!args[required]) {
      fail(`--${required} is required`);
    }
  }
  if (!/^\d+$/.test(args.port) || Number(args.port) > 65535) {
    fail(`--port '${args.port}' is not a port number`);
  }
  if (args['max-streams'] !== undefined && !/^[1-9]\d*$/.test(args['max-streams'])) {
    fail(`--max-streams '${args['max-streams']}' is not a positive number`);
  }
  if (Boolean(args['tls-cert']) !== Boolean(args['tls-key'])) {
    fail('--tls-cert and --tls-key go together');
  }
  return args;
}

function fail(message) {
  process.stderr.write(`grpc-js peer: ${message}\n`);
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
const loadOptions = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };
// The contracts: the greeter the sandbox's pods serve too, and grpc.health.v1 (upstream's proto; .NET uses Grpc.HealthCheck's).
const src = path.join(__dirname, '..', '..', '..', 'src');
const greet = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(src, 'ClientLb.Sandbox', 'Pods', 'Grpc', 'greeter.proto'), loadOptions)).greet;
const health = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(__dirname, 'health.proto'), loadOptions)).grpc.health.v1;

let served = 0;
let received = 0;
let failure = { status: 0, delayMs: 0 };
const statuses = new Map([['', 'SERVING'], ['greet.Greeter', 'SERVING']]);
const watchers = new Set();

const greeter = {
  SayHello(call, callback) {
    const request = call.request;
    received++;
    if (failure.status) {
      const { status, delayMs } = failure;
      setTimeout(() => callback({ code: status, details: `${args.name} is set to fail` }), delayMs);
      return;
    }
    if (request.failWithStatus) {
      callback({ code: request.failWithStatus, details: request.failMessage || `asked to fail by ${args.name}` });
      return;
    }
    served++;
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() - Date.now() : -1;
    callback(null, { message: `Hello ${request.name}`, server: args.name, sequence: served, deadlineMs });
  },
  StreamHellos(call) {
    const { name, count, intervalMs } = call.request;
    let sent = 0;
    const next = () => {
      if (call.cancelled) {
        return;
      }
      call.write({ message: `Hello ${name}`, server: args.name, sequence: ++sent });
      if (count > 0 && sent >= count) {
        call.end();
        return;
      }
      timer = setTimeout(next, intervalMs);
    };
    let timer = null;
    call.on('cancelled', () => clearTimeout(timer));
    next();
  },
};

const healthService = {
  Check(call, callback) {
    const status = statuses.get(call.request.service);
    if (status === undefined) {
      callback({ code: grpc.status.NOT_FOUND, details: `unknown service '${call.request.service}'` });
      return;
    }
    callback(null, { status });
  },
  Watch(call) {
    const send = () => call.write({ status: statuses.get(call.request.service) ?? 'SERVICE_UNKNOWN' });
    const watcher = { service: call.request.service, send };
    watchers.add(watcher);
    call.on('cancelled', () => watchers.delete(watcher));
    send();
  },
};

const server = new grpc.Server(args['max-streams'] ? { 'grpc.max_concurrent_streams': Number(args['max-streams']) } : {});
server.addService(greet.Greeter.service, greeter);
server.addService(health.Health.service, healthService);

const credentials = args['tls-cert']
  ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: fs.readFileSync(args['tls-cert']), private_key: fs.readFileSync(args['tls-key']) }], false)
  : grpc.ServerCredentials.createInsecure();

server.bindAsync(`${args.address}:${args.port}`, credentials, (error, port) => {
  if (error) {
    fail(`cannot listen on ${args.address}:${args.port}: ${error.message}`);
  }
  process.stdout.write(`listening ${args.address}:${port}\n`);
});

function handle(line) {
  const words = line.trim().split(/\s+/);
  switch (words[0]) {
    case 'health': {
      const service = words[1] === '-' ? '' : words[1];
      const status = words[2];
      if (service === undefined || !['SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'].includes(status)) {
        return 'usage: health <service|-> SERVING|NOT_SERVING|SERVICE_UNKNOWN';
      }
      statuses.set(service, status);
      for (const watcher of watchers) {
        if (watcher.service === service) {
          watcher.send();
        }
      }
      return null;
    }
    case 'fail': {
      const status = Number(words[1]);
      const delayMs = words[2] === undefined ? 0 : Number(words[2]);
      if (!Number.isInteger(status) || status < 0 || status > 16 || !Number.isInteger(delayMs) || delayMs < 0) {
        return 'usage: fail <status 0-16> [delay-ms]';
      }
      failure = { status, delayMs };
      return null;
    }
    case 'count':
      process.stdout.write(`count ${served} ${received}\n`);
      return null;
    case 'stop':
      server.tryShutdown(() => {
        process.stdout.write(`ok ${line}\n`);
        process.exit(0);
      });
      return undefined;
    default:
      return `unknown command '${words[0]}'`;
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') {
    return;
  }
  const error = handle(line);
  if (error === null) {
    process.stdout.write(`ok ${line}\n`);
  } else if (error !== undefined) {
    process.stdout.write(`error ${line}: ${error}\n`);
  }
}).on('close', () => process.exit(0));

// SIGTERM, as Kubernetes stops a pod: graceful shutdown (GOAWAY; in-flight calls finish), then exit.
process.on('SIGTERM', () => {
  server.tryShutdown(() => process.exit(0));
});
