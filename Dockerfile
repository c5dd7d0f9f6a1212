# dvsync as a container image: one static binary (CGO_ENABLED=0; the
# SQLite driver is pure Go) on a distroless base with CA certificates and
# a non-root user. The same image runs `dvsync worker`, the CronJob that
# enqueues a distributed sync, and every other command.
#
#   docker build -t registry.example.com/dvsync:v1.2.3 --build-arg VERSION=v1.2.3 .
#   docker run --rm registry.example.com/dvsync:v1.2.3 --version
#
# See deploy/kubernetes/ for the worker Deployment and the CronJobs.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X github.com/dvsync/dvsync/cmd/internal/root.Version=${VERSION}" \
      -o /out/dvsync ./cmd/dvsync \
 && /out/dvsync --version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dvsync /usr/local/bin/dvsync
# The working directory is writable by the nonroot user (65532), for a
# SQLite state file or rejects files when no volume is mounted.
WORKDIR /home/nonroot
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/dvsync"]
CMD ["--help"]
