package geoledger

import "crypto/ed25519"

type ed25519PublicKey = ed25519.PublicKey
