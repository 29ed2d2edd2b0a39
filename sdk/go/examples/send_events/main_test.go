package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	geoledger "github.com/geoledger/geoledger/sdk/go"
)

// answering returns a loopback ingest stub that gives the i-th event statuses[i].
func answering(t *testing.T, statuses ...string) (*httptest.Server, *[]map[string]any) {
	var received []map[string]any
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var request struct{ Events []map[string]any }
		_ = json.Unmarshal(body, &request)
		received = append(received, request.Events...)
		results := []map[string]any{}
		for i, event := range request.Events {
			results = append(results, map[string]any{
				"index": i, "tenant_id": event["tenant_id"], "event_id": event["event_id"], "status": statuses[i],
			})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
	}))
	t.Cleanup(server.Close)
	return server, &received
}

func setEnv(t *testing.T, url string) {
	key, _ := geoledger.GenerateKey()
	pem, _ := geoledger.PrivateKeyToPEM(key)
	keyFile := filepath.Join(t.TempDir(), "acme.pem")
	if err := os.WriteFile(keyFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GEOLEDGER_URL", url)
	t.Setenv("GEOLEDGER_TENANT", "acme")
	t.Setenv("GEOLEDGER_KEY_FILE", keyFile)
}

func TestExitsZeroWhenAllAccepted(t *testing.T) {
	server, received := answering(t, "accepted", "duplicate", "accepted")
	setEnv(t, server.URL)
	if code := run(); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	if len(*received) != 3 || (*received)[0]["tenant_id"] != "acme" {
		t.Fatalf("server received %v", *received)
	}
}

func TestExitsOneWhenAnEventIsRejected(t *testing.T) {
	server, _ := answering(t, "accepted", "rejected", "accepted")
	setEnv(t, server.URL)
	if code := run(); code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
}

func TestExitsTwoWithoutConfiguration(t *testing.T) {
	t.Setenv("GEOLEDGER_URL", "")
	if code := run(); code != 2 {
		t.Fatalf("exit status %d, want 2", code)
	}
}
