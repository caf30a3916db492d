#!/bin/sh
# Test certificates, made at test time so that no private key is committed.
#   mkcerts.sh DIR                     the standard set below
#   mkcerts.sh DIR NAME SAN [SAN...]   one more leaf NAME.pem/NAME.key
# DIR/ca.pem signs every leaf (DIR/ca.key stays with it). SANs are DNS names
# or IP addresses. The standard set:
#   localhost.pem  localhost, 127.0.0.1, ::1 (test origins, upstream TLS)
#   a.pem          a.test        b.pem   b.test
#   wild.pem       *.wild.test   client.pem  a client certificate
#   other-ca.pem   a second CA that signed nothing the tests trust
# Keys are P-256 (fast to make); nothing here is secret.
set -eu
dir=$1
shift
mkdir -p "$dir"
cd "$dir"

ca() { # NAME SUBJECT
	[ -f "$1.pem" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

leaf() { # NAME SAN...
	name=$1
	shift
	san=""
	for s in "$@"; do
		case $s in
		*[!0-9.:a-fA-F]* | "") san="$san,DNS:$s" ;;
		*) san="$san,IP:$s" ;;
		esac
	done
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$name.key" -out "$name.csr" -subj "/CN=$1" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' \
		"${san#,}" >"$name.ext"
	openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key \
		-CAcreateserial -days 2 -extfile "$name.ext" -out "$name.pem" 2>/dev/null
	rm -f "$name.csr" "$name.ext"
}

ca ca "tracegate test CA"
if [ $# -gt 0 ]; then
	leaf "$@"
	exit 0
fi
leaf localhost localhost 127.0.0.1 ::1
leaf a a.test
leaf b b.test
leaf wild '*.wild.test'
leaf client client.test
ca other-ca "tracegate other test CA"
