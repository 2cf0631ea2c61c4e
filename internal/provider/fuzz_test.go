package provider

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/divio/terraform-provider-divio/internal/divio"
)

// Run one with: go test -run '^$' -fuzz '^FuzzPrefix$' -fuzztime 1m ./internal/provider

// FuzzPrefix checks the prefix validator against an oracle written from the contract, and that
// every prefix it accepts gives variable names that belong to that prefix.
func FuzzPrefix(f *testing.F) {
	for _, seed := range []string{"DEFAULT", "MEDIA_2", "A", "A23456789012345678901234567890", "A234567890123456789012345678901",
		"default", "_X", "9A", "", "DEFAULT ", "ÄB", "A-B", "A\x00", "DEFAULT\n", "DATABASE"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, prefix string) {
		req := validator.StringRequest{Path: path.Root("prefix"), ConfigValue: types.StringValue(prefix)}
		var resp validator.StringResponse
		prefixValidator.ValidateString(context.Background(), req, &resp)
		accepted := !resp.Diagnostics.HasError()
		if accepted != validPrefix(prefix) {
			t.Fatalf("prefix %q: accepted = %v, want %v", prefix, accepted, !accepted)
		}
		if !accepted {
			return
		}
		for _, typ := range []string{divio.TypeDatabase, divio.TypeStorage, divio.TypeSearch, divio.TypeMessageQueue} {
			names := divio.VariableNames(typ, prefix)
			if len(names) == 0 || !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
				t.Errorf("divio.VariableNames(%s, %q) = %q: want a sorted list without duplicates", typ, prefix, names)
			}
			for _, name := range names {
				own := strings.HasPrefix(name, prefix+"_")
				alias := prefix == "DEFAULT" && (name == "DATABASE_URL" && typ == divio.TypeDatabase || name == "BROKER_URL" && typ == divio.TypeMessageQueue)
				if !own && !alias {
					t.Errorf("divio.VariableNames(%s, %q) has %q, which does not start with the prefix", typ, prefix, name)
				}
				if !validEnvVarName(name) {
					t.Errorf("divio.VariableNames(%s, %q) has %q, not an environment variable name", typ, prefix, name)
				}
			}
		}
		if names := divio.VariableNames("NO_SUCH_TYPE", prefix); len(names) != 0 {
			t.Errorf("an unknown type publishes %q", names)
		}
	})
}

// validPrefix is the contract's ^[A-Z][A-Z0-9_]{0,29}$, spelled out.
func validPrefix(s string) bool {
	if len(s) < 1 || len(s) > 30 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func validEnvVarName(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '_' }) < 0
}

// FuzzParseImportID checks that an accepted import id has no slash or white space (it becomes a
// path segment of the API), and that parsing is a round trip.
func FuzzParseImportID(f *testing.F) {
	for _, seed := range []string{"0b5d3a2e-8f1c-4f7a-9a43-2c6f0e8d1b77", " 01HZX3K9Q2V7N8M4R5T6Y7U8I9 \n", "", " ", "a/b", "../x",
		"a b", "a\tb", "a?b", "a#b", "%2F", "ü", "\u00a0x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := parseImportID(importService, raw)
		if err != nil {
			if !strings.Contains(err.Error(), "service instance") {
				t.Errorf("the error for %q does not name the kind: %v", raw, err)
			}
			return
		}
		if id == "" || strings.ContainsRune(id, '/') || strings.ContainsFunc(id, unicode.IsSpace) {
			t.Fatalf("parseImportID(%q) accepted %q", raw, id)
		}
		if again, err := parseImportID(importService, id); err != nil || again != id {
			t.Errorf("parseImportID(%q) = %q, %v: not a round trip of %q", id, again, err, raw)
		}
		if padded, err := parseImportID(importService, " "+id+"\n"); err != nil || padded != id {
			t.Errorf("parseImportID with spaces around %q = %q, %v", id, padded, err)
		}
	})
}
