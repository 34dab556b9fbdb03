# The release image, built by goreleaser (dockers_v2 in .goreleaser.yml) from
# the binaries it has just built: its build context holds
# linux/amd64/flipbench and linux/arm64/flipbench, not the sources, so this
# file does not build an image from a checkout.
#
# distroless static: no shell and no package manager, but a /tmp that anyone
# may write (the flip server copies each job into a temporary directory), CA
# certificates and a nonroot user. The binary is static (CGO_ENABLED=0).
FROM gcr.io/distroless/static-debian12:nonroot

ARG TARGETPLATFORM
COPY $TARGETPLATFORM/flipbench /flipbench

# flipbench listens on loopback by default, which no one outside a container
# can reach: in one, listen on the container's own interfaces and let
# `docker run -p` decide what the host exposes. A flag still wins (the
# variables are per command: see flipbench --help).
ENV FLIPBENCH_STANDARD_ADDR=0.0.0.0:3000 FLIPBENCH_CLUSTER_ADDR=0.0.0.0:3000
EXPOSE 3000

ENTRYPOINT ["/flipbench"]
