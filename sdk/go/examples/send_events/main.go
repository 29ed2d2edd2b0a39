// Command send_events sends a few signed events to a geoledger ingest node and prints what it
// answered.
//
// Environment:
//
//	GEOLEDGER_URL       base URL of an ingest node, e.g. http://127.0.0.1:8080
//	GEOLEDGER_TENANT    tenant id the key is registered for
//	GEOLEDGER_KEY_FILE  the tenant's private key (PKCS8 PEM, as `geoledger keys create` writes it)
//	GEOLEDGER_KEY_ID    optional: the key id the key was registered under (default: derived)
//
// Exit status: 0 when every event was accepted or a duplicate, 1 when one was not, 2 when the
// events could not be sent at all.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	geoledger "github.com/geoledger/geoledger/sdk/go"
)

func main() { os.Exit(run()) }

func run() int {
	url, tenant, keyFile := os.Getenv("GEOLEDGER_URL"), os.Getenv("GEOLEDGER_TENANT"), os.Getenv("GEOLEDGER_KEY_FILE")
	if url == "" || tenant == "" || keyFile == "" {
		fmt.Fprintln(os.Stderr, "error: set GEOLEDGER_URL, GEOLEDGER_TENANT and GEOLEDGER_KEY_FILE")
		return 2
	}
	key, err := geoledger.LoadPrivateKeyFile(keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 2
	}
	signer := geoledger.NewSigner(key, tenant)
	if keyID := os.Getenv("GEOLEDGER_KEY_ID"); keyID != "" {
		signer.KeyID = keyID
	}
	runID := make([]byte, 6)
	_, _ = rand.Read(runID)
	var events []geoledger.SignedEvent
	for n := 1; n <= 3; n++ {
		event, err := signer.Sign(
			fmt.Sprintf("example-go-%s-%d", hex.EncodeToString(runID), n),
			"example.order.created",
			map[string]any{"order": n, "total": 10.5 * float64(n), "currency": "EUR", "sdk": "go"},
			"")
		if err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			return 2
		}
		events = append(events, event)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	result, err := geoledger.NewClient(url).Send(ctx, events)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 2
	}
	for _, r := range result.Results {
		line := fmt.Sprintf("%d %s %s", r.Index, r.EventID, r.Status)
		if r.Reason != nil {
			line += " " + string(*r.Reason)
			if r.Detail != nil {
				line += ": " + *r.Detail
			}
		}
		fmt.Println(line)
	}
	if result.Deprecation != nil {
		fmt.Fprintf(os.Stderr, "warning: API deprecation notice: Deprecation=%s Sunset=%s\n",
			result.Deprecation.Deprecation, result.Deprecation.Sunset)
	}
	if !result.AllOK() {
		return 1
	}
	return 0
}
