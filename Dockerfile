# syntax=docker/dockerfile:1
# Multi-stage build: a static binary (CGO_ENABLED=0) in a minimal, non-root
# runtime image. Inside the container the gateway listens on 0.0.0.0:8080
# (set explicitly here; the binary's own default stays loopback).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The same command is checked by TestDockerfileBuildCommand.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sessiongw ./cmd/sessiongw

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sessiongw /usr/local/bin/sessiongw
ENV SESSIONGW_HTTP_ADDR=0.0.0.0:8080 \
    SESSIONGW_LOG_FORMAT=json
EXPOSE 8080
USER nonroot:nonroot
# distroless has no shell or curl: the binary checks its own /healthz.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["sessiongw", "healthcheck"]
ENTRYPOINT ["sessiongw"]
CMD ["serve"]
