/** A scripted HTTP server on loopback speaking the ingest API's wire format: scripted replies first, then every event accepted. */

import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Reply = (response: ServerResponse, body: string) => void | Promise<void>;

export interface Recorded {
  method: string;
  path: string;
  body: string;
  headers: IncomingHttpHeaders;
}

export interface Stub {
  url: string;
  script: Reply[];
  always: Reply | undefined;
  requests: Recorded[];
  close(): Promise<void>;
}

export function answerAll(
  response: ServerResponse,
  body: string,
  statuses: string[] = ["accepted"],
  reason: string | null = null,
): void {
  const events = (JSON.parse(body) as { events: { tenant_id: string; event_id: string }[] }).events;
  const results = events.map((event, index) => {
    const status = statuses[index % statuses.length];
    return {
      index,
      tenant_id: event.tenant_id,
      event_id: event.event_id,
      status,
      reason: status === "rejected" ? reason : null,
      detail: null,
    };
  });
  response.writeHead(200, { "content-type": "application/json" });
  response.end(JSON.stringify({ results }));
}

export function status(code: number, body: string, headers: Record<string, string> = {}): Reply {
  return (response) => {
    response.writeHead(code, { "content-type": "application/json", ...headers });
    response.end(body);
  };
}

export async function startStub(): Promise<Stub> {
  const stub: Stub = { url: "", script: [], always: undefined, requests: [], close: async () => {} };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      stub.requests.push({ method: request.method ?? "", path: request.url ?? "", body, headers: request.headers });
      const reply = stub.script.shift() ?? stub.always ?? ((r: ServerResponse, b: string) => answerAll(r, b));
      void reply(response, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stub.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return stub;
}
