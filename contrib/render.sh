#!/bin/sh
# contrib/render.sh: fills a Parley web server template (@NAME@ placeholders)
# from the environment and prints the result.
#
#   PARLEY_HTTP_PORT=8000 PARLEY_WWW=/usr/share/parley/www ... \
#     contrib/render.sh contrib/lighttpd/parley.conf > /etc/lighttpd/parley.conf
#
# Placeholders and the variables that fill them (defaults in brackets):
#   @HTTP_PORT@    PARLEY_HTTP_PORT    port the web server listens on [8000]
#   @HTTP_HOST@    PARLEY_HTTP_HOST    address it listens on [127.0.0.1]
#   @WWW@          PARLEY_WWW          the web client's folder (www/) [required]
#   @FCGI@         PARLEY_FCGI         the parley.fcgi binary (lighttpd bin-path, CGI) [required for those]
#   @FCGI_ADDR@    PARLEY_FCGI_ADDR    where parley.fcgi listens, HOST:PORT [127.0.0.1:9000]
#   @PARLEYD@      PARLEYD_ADDR        parleyd's HOST:PORT, for push streams [127.0.0.1:8080]
#   @PARLEYD_HOST@, @PARLEYD_PORT@     the two halves of PARLEYD_ADDR
#   @DATA@         PARLEY_DATA         data folder shared with parleyd [./var]
#   @SECRET_FILE@  PARLEY_SECRET_FILE  file holding the JWT secret (parleyd's) [required for bin-path/CGI]
#   @RUN@          PARLEY_RUN          folder for pid file, logs, sockets, temp files [required]
#   @USER@/@GROUP@ PARLEY_USER/_GROUP  who workers run as when started as root [nobody/nogroup]
set -eu
[ $# -eq 1 ] || { echo "usage: $0 TEMPLATE" >&2; exit 2; }
parleyd=${PARLEYD_ADDR:-127.0.0.1:8080}
esc() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }
sed -e "s|@HTTP_PORT@|$(esc "${PARLEY_HTTP_PORT:-8000}")|g" \
    -e "s|@HTTP_HOST@|$(esc "${PARLEY_HTTP_HOST:-127.0.0.1}")|g" \
    -e "s|@WWW@|$(esc "${PARLEY_WWW:-/usr/local/share/parley/www}")|g" \
    -e "s|@FCGI@|$(esc "${PARLEY_FCGI:-/usr/local/bin/parley.fcgi}")|g" \
    -e "s|@FCGI_ADDR@|$(esc "${PARLEY_FCGI_ADDR:-127.0.0.1:9000}")|g" \
    -e "s|@PARLEYD@|$(esc "$parleyd")|g" \
    -e "s|@PARLEYD_HOST@|$(esc "${parleyd%:*}")|g" \
    -e "s|@PARLEYD_PORT@|$(esc "${parleyd##*:}")|g" \
    -e "s|@DATA@|$(esc "${PARLEY_DATA:-./var}")|g" \
    -e "s|@SECRET_FILE@|$(esc "${PARLEY_SECRET_FILE:-/etc/parley/jwt-secret}")|g" \
    -e "s|@RUN@|$(esc "${PARLEY_RUN:-/run/parley}")|g" \
    -e "s|@USER@|$(esc "${PARLEY_USER:-nobody}")|g" \
    -e "s|@GROUP@|$(esc "${PARLEY_GROUP:-nogroup}")|g" \
    "$1"
