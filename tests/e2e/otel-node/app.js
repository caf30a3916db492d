'use strict';
// A small HTTP service instrumented with the OpenTelemetry JS SDK, to stand
// behind tracegate in end-to-end tests: the SDK (not our code) extracts the
// W3C traceparent the gateway forwards, opens the SERVER span and exports it
// over OTLP/HTTP, so a test can check that the gateway's CLIENT span is the
// parent of a real instrumented service's span.
//
// Usage: node app.js [--port N] [--otlp URL] [--protocol json|protobuf]
//                    [--batch] [--gzip] [--max-seconds S]
//   --port N          listen on 127.0.0.1:N; 0 (default) = any, env PORT
//   --otlp URL        where spans go (full URL, e.g. http://127.0.0.1:4318/v1/traces);
//                     env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
//   --protocol P      json (default, OTLP/JSON) or protobuf;
//                     env OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (http/json, http/protobuf)
//   --batch           BatchSpanProcessor instead of SimpleSpanProcessor (one
//                     export per span, as soon as it ends: deterministic)
//   --gzip            Content-Encoding: gzip on exports
//   --max-seconds S   flush and exit 0 by itself after S seconds (default 300; 0 = never)
// Prints "READY <port>" on stdout once listening. Every request is answered
// 200 with a JSON body: the path, the traceparent received, and the trace and
// span ids of the SERVER span the SDK opened for it. SIGTERM/SIGINT: stop
// listening, flush the spans (an export gives up after 3 s), exit 0; 1 when
// the SDK's shutdown fails or takes more than 8 s. Export failures (refused,
// an error status) are logged on stderr by the SDK and do not change the exit.

const { diag, DiagConsoleLogger, DiagLogLevel, trace } = require('@opentelemetry/api');
const {
  NodeTracerProvider,
  SimpleSpanProcessor,
  BatchSpanProcessor,
} = require('@opentelemetry/sdk-trace-node');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions');

function parseArgs(argv) {
  const opt = {
    port: process.env.PORT || '0',
    otlp: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || '',
    protocol: (process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || 'json').replace(/^http\//, ''),
    batch: false,
    gzip: false,
    maxSeconds: '300',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') opt.port = value();
    else if (a === '--otlp') opt.otlp = value();
    else if (a === '--protocol') opt.protocol = value();
    else if (a === '--max-seconds') opt.maxSeconds = value();
    else if (a === '--batch') opt.batch = true;
    else if (a === '--gzip') opt.gzip = true;
    else usage(`unknown argument ${a}`);
  }
  if (!opt.otlp) usage('no OTLP endpoint (--otlp URL)');
  if (opt.protocol !== 'json' && opt.protocol !== 'protobuf') usage(`bad protocol ${opt.protocol}`);
  return opt;
}

function usage(why) {
  process.stderr.write(`app.js: ${why}\n`);
  process.exit(2);
}

const opt = parseArgs(process.argv.slice(2));

// Export failures and SDK warnings go to stderr, where a test can read them.
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

const { OTLPTraceExporter } =
  opt.protocol === 'json'
    ? require('@opentelemetry/exporter-trace-otlp-http')
    : require('@opentelemetry/exporter-trace-otlp-proto');
const exporter = new OTLPTraceExporter({
  url: opt.otlp,
  compression: opt.gzip ? 'gzip' : 'none',
  timeoutMillis: 3000,
});
const processor = opt.batch
  ? new BatchSpanProcessor(exporter, { scheduledDelayMillis: 200 })
  : new SimpleSpanProcessor(exporter);
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'node-app' }),
  spanProcessors: [processor],
});
// register() installs the context manager and the default W3C propagator.
provider.register();
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

// Required only now, so that the instrumentation has hooked it.
const http = require('http');

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const ctx = trace.getActiveSpan()?.spanContext();
    const body = JSON.stringify({
      service: 'node-app',
      method: req.method,
      path: req.url,
      traceparent: req.headers.traceparent || null,
      trace_id: ctx ? ctx.traceId : null,
      span_id: ctx ? ctx.spanId : null,
      request_bytes: Buffer.concat(chunks).length,
    }) + '\n';
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
});

let stopping = false;
function stop(why) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`app.js: ${why}, flushing\n`);
  const guard = setTimeout(() => {
    process.stderr.write('app.js: flush took too long\n');
    process.exit(1);
  }, 8000);
  server.close();
  server.closeAllConnections();
  provider
    .shutdown()
    .then(() => {
      clearTimeout(guard);
      process.exit(0);
    })
    .catch((err) => {
      process.stderr.write(`app.js: flush failed: ${err}\n`);
      process.exit(1);
    });
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
const maxSeconds = Number(opt.maxSeconds);
if (maxSeconds > 0) setTimeout(() => stop('--max-seconds reached'), maxSeconds * 1000).unref();

server.listen(Number(opt.port), '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
