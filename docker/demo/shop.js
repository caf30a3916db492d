'use strict';
// The compose demo's instrumented service: a small Node.js shop whose spans
// come from the OpenTelemetry JS SDK (the npm packages pinned in
// tests/e2e/otel-node/package-lock.json). The SDK continues the trace that
// tracegate forwards, and the shop calls the legacy service back through the
// gateway, so one request gives one trace across gateway, shop and legacy:
//
//   tracegate SERVER GET /shop -> CLIENT -> shop SERVER GET
//     -> shop INTERNAL price -> shop CLIENT GET -> tracegate SERVER GET /legacy
//     -> CLIENT -> legacy (no tracing of its own)
//
// GET /shop/checkout             200, with the inventory answer of legacy
//     ?delay_ms=N                answers N ms later (0..10000): a slow trace
//     ?fail=1                    500: an error trace
// Anything else: 404.
//
// Environment: PORT (3000), INVENTORY_URL (http://tracegate:8080/legacy/inventory),
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (http://otel-collector:4318/v1/traces),
// OTEL_SERVICE_NAME (shop). Listens on all interfaces; SIGTERM flushes the
// spans and exits.

const { trace, SpanStatusCode } = require('@opentelemetry/api');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions');

const port = Number(process.env.PORT || 3000);
const inventoryUrl = process.env.INVENTORY_URL || 'http://tracegate:8080/legacy/inventory';
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME || 'shop',
  }),
  spanProcessors: [
    new BatchSpanProcessor(
      new OTLPTraceExporter({
        url:
          process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || 'http://otel-collector:4318/v1/traces',
        compression: 'gzip',
      }),
      { scheduledDelayMillis: 1000 },
    ),
  ],
});
// register() installs the context manager and the W3C propagator.
provider.register();
registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });

// Required only now, so that the instrumentation has hooked it.
const http = require('http');
const tracer = trace.getTracer('shop');

function send(res, status, obj) {
  const body = JSON.stringify(obj) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

// GET <inventoryUrl>: resolves to {status, body}; the instrumentation opens
// the CLIENT span and injects traceparent.
function inventory(sku) {
  return new Promise((resolve) => {
    const req = http.get(`${inventoryUrl}?sku=${sku}`, { timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        let body = Buffer.concat(chunks).toString();
        try {
          body = JSON.parse(body);
        } catch (e) {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 502, body: String(err) }));
  });
}

async function checkout(url, res) {
  const delay = Math.min(Math.max(Number(url.searchParams.get('delay_ms')) || 0, 0), 10000);
  const fail = url.searchParams.get('fail') === '1';
  const sku = url.searchParams.get('sku') || '42';
  const price = tracer.startActiveSpan('price', (span) => {
    span.setAttribute('shop.sku', sku);
    span.end();
    return 1999;
  });
  const stock = await inventory(sku);
  if (delay) await new Promise((r) => setTimeout(r, delay));
  const ctx = trace.getActiveSpan()?.spanContext();
  if (fail) {
    trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined' });
    return send(res, 500, { service: 'shop', error: 'payment declined', trace_id: ctx?.traceId });
  }
  send(res, 200, {
    service: 'shop',
    sku,
    price_cents: price,
    inventory: stock,
    trace_id: ctx?.traceId,
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://shop');
  req.resume();
  if (req.method === 'GET' && url.pathname === '/shop/checkout') {
    checkout(url, res).catch((err) => send(res, 500, { service: 'shop', error: String(err) }));
  } else {
    send(res, 404, { service: 'shop', error: `no ${req.method} ${url.pathname}` });
  }
});

function stop(sig) {
  process.stderr.write(`shop: ${sig}, flushing spans\n`);
  server.close();
  server.closeAllConnections();
  provider.shutdown().finally(() => process.exit(0));
  setTimeout(() => process.exit(1), 5000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

server.listen(port, '0.0.0.0', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
