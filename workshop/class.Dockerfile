# `workshop class serve` in a container, for a conference-sized room behind
# a proxy or on a server: `make class-image`, then
#   docker run -p 8200:8200 -v workshop-class:/data workshop-class --url http://HOST:8200 --admin SECRET
# FROM scratch: the CLI is static (CGO_ENABLED=0), so nothing is pulled.
FROM scratch
COPY workshop /workshop
EXPOSE 8200
VOLUME /data
ENTRYPOINT ["/workshop", "class", "serve", "--addr", ":8200", "--data", "/data", "--no-qr"]
