# syntax=docker/dockerfile:1
# Build: a static binary (the SQLite driver is pure Go, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/flowbin ./cmd/flowbin && mkdir -p /out/data

# Run: distroless, as a non-root user. /data holds the SQLite file when no FLOWBIN_DATABASE_URL is given.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/flowbin /flowbin
COPY --from=build --chown=65532:65532 /out/data /data
ENV FLOWBIN_ADDR=0.0.0.0:8080 \
    FLOWBIN_DATA_DIR=/data \
    FLOWBIN_LOG_FORMAT=json
EXPOSE 8080
VOLUME /data
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/flowbin", "healthcheck"]
ENTRYPOINT ["/flowbin"]
CMD ["serve"]
