package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindExamplesAndCopy(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"module/main.tf":                     "",
		"module/tests/a.tftest.hcl":          "",
		"module/.terraform/x/main.tf":        "",
		"module/terraform.tfstate":           "{}",
		"resources/x/resource.tf":            "",
		"resources/x/import.sh":              "",
		"resources/x/import-by-string-id.tf": "",
		"only-imports/import-by-identity.tf": "",
		"queries/list.tfquery.hcl":           "",
		"docs/README.md":                     "",
	})
	got, err := findExamples(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"module", "resources/x"}; !slices.Equal(got, want) {
		t.Errorf("findExamples = %q, want %q", got, want)
	}

	for example, want := range map[string][]string{
		"module":      {"main.tf", "tests/a.tftest.hcl"},
		"resources/x": {"resource.tf"},
	} {
		to := t.TempDir()
		if err := copyExample(filepath.Join(root, example), to); err != nil {
			t.Fatal(err)
		}
		var copied []string
		_ = filepath.WalkDir(to, func(path string, d os.DirEntry, _ error) error {
			if !d.IsDir() {
				rel, _ := filepath.Rel(to, path)
				copied = append(copied, filepath.ToSlash(rel))
			}
			return nil
		})
		if !slices.Equal(copied, want) {
			t.Errorf("copyExample(%s) copied %q, want %q", example, copied, want)
		}
	}
}

// The import files of the repository's examples must be what importAsShown understands: one
// address per file and placeholders it can fill from the state.
func TestImportFilesOfExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/resources/*/import*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no import files found under examples/resources (%v)", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text, name := string(b), filepath.Base(file)
		if !isImportFile(name) {
			t.Errorf("%s: tfplugindocs does not show a file of this name", file)
			continue
		}
		if name == "import.sh" {
			if n := len(importCommand.FindAllStringSubmatch(text, -1)); n != 1 {
				t.Errorf("%s: %d `terraform import <address> <placeholder>` lines, want 1", file, n)
			}
		} else if n := len(importTo.FindAllStringSubmatch(text, -1)); n != 1 {
			t.Errorf("%s: %d import blocks, want 1", file, n)
		}
		if len(placeholder.FindAllString(text, -1)) == 0 {
			t.Errorf("%s: no <... id> placeholder", file)
		}
	}
}

func TestPlaceholderValue(t *testing.T) {
	state := &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{Resources: []*tfjson.StateResource{
		{Address: "divio_service.database", AttributeValues: map[string]any{"id": "inst-1", "environment_id": "env-1"}},
	}}}}
	for _, tc := range []struct {
		address, placeholder, want, wantErr string
	}{
		{"divio_service.database", "<instance id>", "inst-1", ""},
		{"divio_service.database", "<environment id>", "env-1", ""},
		{"divio_service.other", "<instance id>", "", "the state holds no id of divio_service.other"},
	} {
		got, err := placeholderValue(state, tc.address, tc.placeholder)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("placeholderValue(%s, %s) = %q, %v; want %q, %q", tc.address, tc.placeholder, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestUnprotect(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.tf": "resource \"divio_service\" \"db\" {\n  deletion_protection  =  true\n}\n"})
	if err := unprotect(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "main.tf"))
	if want := "  deletion_protection  =  false\n"; !strings.Contains(string(b), want) {
		t.Errorf("after unprotect main.tf is %q, want a line %q", b, want)
	}
	if err := unprotect(dir); err == nil {
		t.Error("unprotect of an unprotected example succeeded; it should say the expectation is wrong")
	}
}

func TestEditExample(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.tf": "resource \"divio_service\" \"db\" {\n  service = \"postgres-15\"\n}\n"})
	e := edit{`"postgres-15"`, `"postgres-16"`}
	if err := editExample(dir, e); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "main.tf"))
	if want := `  service = "postgres-16"`; !strings.Contains(string(b), want) {
		t.Errorf("after editExample main.tf is %q, want a line %q", b, want)
	}
	if err := editExample(dir, e); err == nil {
		t.Error("editExample of an example without the text succeeded; it should say the expectation is wrong")
	}
}
