import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A span as an OTLP/JSON export carries it, its attributes flattened to plain values. */
export type ReceivedSpan = {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  status: { code?: number; message?: string };
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
};

export type OtlpPost = { path: string; contentType: string; body: Buffer };

/**
 * A local OTLP/HTTP receiver, as a collector would listen on :4318: it keeps every export posted to it and
 * decodes the JSON ones (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
 */
export type OtlpReceiver = {
  /** The base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); exporters post to `${url}/v1/traces`. */
  url: string;
  posts: OtlpPost[];
  /** The spans of every JSON export so far. */
  spans(): ReceivedSpan[];
  close(): Promise<void>;
};

/** `status`: what it answers every export (a failing collector answers 500). */
export async function startOtlpReceiver(opts: { status?: number } = {}): Promise<OtlpReceiver> {
  const status = opts.status ?? 200;
  const posts: OtlpPost[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ path: req.url ?? '', contentType: String(req.headers['content-type'] ?? ''), body: Buffer.concat(chunks) });
      const json = String(req.headers['content-type']).startsWith('application/json');
      res.writeHead(status, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : undefined);
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posts,
    spans: () => posts.filter((p) => p.contentType.startsWith('application/json')).flatMap((p) => spansOf(JSON.parse(p.body.toString('utf8')) as ExportRequest)),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

type AnyValue = { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: AnyValue[] } };
type KeyValue = { key: string; value: AnyValue };
type ExportRequest = {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: (Omit<ReceivedSpan, 'attributes' | 'resource' | 'status'> & { attributes?: KeyValue[]; status?: ReceivedSpan['status'] })[] }[];
  }[];
};

function spansOf(request: ExportRequest): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const resource = attributesOf(rs.resource?.attributes);
    return (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((s) => ({
      ...s, parentSpanId: s.parentSpanId ?? '', status: s.status ?? {}, attributes: attributesOf(s.attributes), resource,
    })));
  });
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
}

function valueOf(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}
