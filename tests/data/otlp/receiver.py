#!/usr/bin/env python3
"""An OTLP receiver independent of netcore's code: grpcio and the opentelemetry-proto
package from PyPI. Serves OTLP/gRPC (logs and metrics) or OTLP/HTTP protobuf
(/PREFIX/v1/logs, /PREFIX/v1/metrics) and prints one JSON line per log record received
({"time", "severity", "severity_text", "event_name", "body", "attributes", "resource"})
and per metric data point ({"metric", "value", "attributes"}), flushed at once.

    receiver.py grpc|http PORT [PREFIX] [--tls CERT KEY] [--unavailable N] [--quiet]
                [--logs-only]

--tls serves over TLS with that certificate and key; --unavailable answers the first N
log requests "come back later" (gRPC UNAVAILABLE; HTTP 503 with Retry-After: 1);
--quiet prints one line per request, {"records": N}, instead (bench/otlp.py);
--logs-only answers metrics 404 over HTTP (as a logs store such as Loki does).
"""
import argparse
import gzip
import json
import ssl
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

lock = threading.Lock()
# Log requests still to refuse (--unavailable).
refusals = [0]
# Whether to print counts only (--quiet).
quiet = [False]
# Whether to refuse metrics (--logs-only).
logs_only = [False]


def refuse():
    """Whether to answer this log request "come back later"."""
    with lock:
        if refusals[0] > 0:
            refusals[0] -= 1
            return True
    return False


def value(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(v) for v in any_value.array_value.values]
    if kind is None:
        return None
    return getattr(any_value, kind)


def attributes(key_values):
    return {kv.key: value(kv.value) for kv in key_values}


def emit(line):
    with lock:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def logs(request):
    if quiet[0]:
        emit({"records": sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)})
        return
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                emit({
                    "time": record.time_unix_nano,
                    "severity": record.severity_number,
                    "severity_text": record.severity_text,
                    "event_name": record.event_name,
                    "body": value(record.body),
                    "attributes": attributes(record.attributes),
                    "resource": resource,
                    "scope": scope_logs.scope.name,
                })


def metrics(request):
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                for point in getattr(metric, kind).data_points:
                    number = point.WhichOneof("value")
                    emit({
                        "metric": metric.name,
                        "kind": kind,
                        "monotonic": getattr(getattr(metric, kind), "is_monotonic", None),
                        "value": getattr(point, number),
                        "attributes": attributes(point.attributes),
                    })


class Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def Export(self, request, context):
        if refuse():
            context.abort(grpc.StatusCode.UNAVAILABLE, "come back later")
        logs(request)
        return logs_service_pb2.ExportLogsServiceResponse()


class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def Export(self, request, context):
        metrics(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


def serve_grpc(port, tls):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    if tls:
        cert, key = (open(path, "rb").read() for path in tls)
        credentials = grpc.ssl_server_credentials([(key, cert)])
        server.add_secure_port(f"127.0.0.1:{port}", credentials)
    else:
        server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    sys.stderr.write(f"receiver: gRPC on {port}\n")
    server.wait_for_termination()


def serve_http(port, prefix, tls):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_response(415)
                self.end_headers()
                return
            if self.path == prefix + "/v1/logs" and refuse():
                self.send_response(503)
                self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == prefix + "/v1/logs":
                request = logs_service_pb2.ExportLogsServiceRequest()
                request.ParseFromString(body)
                logs(request)
                answer = logs_service_pb2.ExportLogsServiceResponse()
            elif self.path == prefix + "/v1/metrics" and not logs_only[0]:
                request = metrics_service_pb2.ExportMetricsServiceRequest()
                request.ParseFromString(body)
                metrics(request)
                answer = metrics_service_pb2.ExportMetricsServiceResponse()
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = answer.SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    sys.stderr.write(f"receiver: HTTP on {port}{prefix}\n")
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["grpc", "http"])
    parser.add_argument("port", type=int)
    parser.add_argument("prefix", nargs="?", default="")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--unavailable", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--logs-only", action="store_true")
    args = parser.parse_args()
    logs_only[0] = args.logs_only
    refusals[0] = args.unavailable
    quiet[0] = args.quiet
    if args.transport == "grpc":
        serve_grpc(args.port, args.tls)
    else:
        serve_http(args.port, args.prefix, args.tls)
