package soak

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestGeneratorIsReproducible: a seed names a run, so a failing soak can be replayed.
func TestGeneratorIsReproducible(t *testing.T) {
	a, b := NewGenerator(7), NewGenerator(7)
	for cycle := range 50 {
		ca, changesA := a.Next(cycle%10 == 8)
		cb, changesB := b.Next(cycle%10 == 8)
		if !reflect.DeepEqual(ca, cb) || !reflect.DeepEqual(changesA, changesB) {
			t.Fatalf("cycle %d: seed 7 gave two different configurations:\n%v\n%v", cycle, changesA, changesB)
		}
	}
	if reflect.DeepEqual(NewGenerator(7).cfgAfter(20), NewGenerator(8).cfgAfter(20)) {
		t.Error("seeds 7 and 8 gave the same configuration after 20 cycles")
	}
}

func (g *Generator) cfgAfter(cycles int) Config {
	for range cycles {
		g.Next(false)
	}
	return g.Config()
}

// TestGeneratorKeepsToWhatOneApplyCanDo checks, over many seeds and cycles, every rule that keeps
// a generated change applicable in one run; a break would fail the soak for the generator's fault.
func TestGeneratorKeepsToWhatOneApplyCanDo(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		g := NewGenerator(seed)
		for cycle := range 200 {
			prev := g.Config()
			unprotectAll := cycle%10 == 8
			next, changes := g.Next(unprotectAll)
			where := fmt.Sprintf("seed %d cycle %d %v", seed, cycle, changes)
			if len(changes) == 0 {
				t.Errorf("%s: no change", where)
			}
			checkConfigIsValid(t, where, next)
			checkTransition(t, where, prev, next)
			if unprotectAll {
				for _, s := range next.Services {
					if s.Protected {
						t.Errorf("%s: %s still protected before a destroy", where, s.Name)
					}
				}
			}
		}
	}
}

func checkConfigIsValid(t *testing.T, where string, c Config) {
	t.Helper()
	if len(c.Services) > maxServices {
		t.Errorf("%s: %d services, more than %d", where, len(c.Services), maxServices)
	}
	names, keys := map[string]bool{}, map[string]bool{}
	for _, s := range c.Services {
		if names[s.Name] {
			t.Errorf("%s: two services named %s", where, s.Name)
		}
		if keys[s.key()] {
			t.Errorf("%s: two services for %s", where, s.key())
		}
		if _, known := ServiceTypes[s.Service]; !known || s.Env < 0 || s.Env >= len(Environments) {
			t.Errorf("%s: %+v names an unknown service or environment", where, s)
		}
		names[s.Name], keys[s.key()] = true, true
	}
}

func checkTransition(t *testing.T, where string, prev, next Config) {
	t.Helper()
	keysBefore := map[string]bool{}
	for _, s := range prev.Services {
		keysBefore[s.key()] = true
		after, kept := next.find(s.Name)
		replaced := kept && engine(after.Service) != engine(s.Service)
		switch {
		case kept && !replaced && after.Service != s.Service && after.Service != upgrades[s.Service]:
			t.Errorf("%s: %s moves from %s to %s, which is no upgrade", where, s.Name, s.Service, after.Service)
		case !kept && s.Protected:
			t.Errorf("%s: protected %s removed", where, s.Name)
		case replaced && s.Protected:
			t.Errorf("%s: %s replaced while protected", where, s.Name)
		case replaced && after.Protected:
			t.Errorf("%s: %s replaced and protected in one cycle", where, s.Name)
		case kept && after.Env != s.Env:
			t.Errorf("%s: %s moved environment", where, s.Name)
		}
	}
	for _, s := range next.Services {
		before, existed := prev.find(s.Name)
		if existed && before.key() == s.key() {
			continue
		}
		if keysBefore[s.key()] {
			t.Errorf("%s: %s takes %s, which an instance held before the cycle", where, s.Name, s.key())
		}
	}
	checkCopies(t, where, prev, next)
	for env := range Environments {
		if next.batched(env) && !next.attachedIn(env) {
			t.Errorf("%s: %s batched without an attachment", where, Environments[env])
		}
		if prev.attachedIn(env) && next.attachedIn(env) && prev.batched(env) != next.batched(env) {
			t.Errorf("%s: %s changed between deploy = true and false while it had attachments", where, Environments[env])
		}
	}
}

// checkCopies: a copy_data_from names a resource of the configuration that holds data of the copy's
// engine, in the same or an older version, in the copy's application; a new copy's source existed
// before the cycle and is left as it was.
func checkCopies(t *testing.T, where string, prev, next Config) {
	t.Helper()
	for _, s := range next.Services {
		if s.CopyFrom == "" {
			continue
		}
		source, ok := next.find(s.CopyFrom)
		switch {
		case !ok:
			t.Errorf("%s: %s copies from %s, which is not configured", where, s.Name, s.CopyFrom)
			continue
		case s.CopyBackup && source.Backup == 0:
			t.Errorf("%s: %s copies from the divio_service_backup of %s, which has none", where, s.Name, s.CopyFrom)
		case Environments[s.Env].App != Environments[source.Env].App:
			t.Errorf("%s: %s copies from %s, of another application", where, s.Name, s.CopyFrom)
		}
		if _, existed := prev.find(s.Name); existed {
			continue
		}
		if source.Service != s.Service && upgrades[source.Service] != s.Service {
			t.Errorf("%s: %s (%s) copies from %s (%s)", where, s.Name, s.Service, s.CopyFrom, source.Service)
		}
		// Its protection, and its own copy_data_from, change nothing at Divio.
		if before, existed := prev.find(s.CopyFrom); !existed || before.Env != source.Env || before.Service != source.Service ||
			before.Prefix != source.Prefix || before.Backup != source.Backup {
			t.Errorf("%s: %s copies from %s, which is new or changed in the cycle", where, s.Name, s.CopyFrom)
		}
	}
}

// TestGeneratorExercisesAttachments: over a few seeds the generator makes every change the soak is
// there to try on attachments, in both modes, and the case of Divio's rule: a service without an
// attachment beside one that gets one (the deployment attaches both), later removed or replaced.
func TestGeneratorExercisesAttachments(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 30; seed++ {
		g := NewGenerator(seed)
		besides := map[string]bool{} // services without attachment that a deployment of this run attached
		for cycle := range 200 {
			prev := g.Config()
			next, _ := g.Next(cycle%10 == 8)
			for _, s := range prev.Services {
				after, kept := next.find(s.Name)
				replaced := kept && engine(after.Service) != engine(s.Service)
				mode := "deploy = true"
				if prev.batched(s.Env) {
					mode = "deploy = false"
				}
				switch {
				case !kept && s.Attached:
					seen["remove attached, "+mode]++
				case replaced && s.Attached:
					seen["replace attached, "+mode]++
				case kept && s.Attached && !after.Attached:
					seen["detach, "+mode]++
				case !kept && besides[s.Name]:
					seen["remove a service a deployment attached without attachment"]++
				case replaced && besides[s.Name]:
					seen["replace a service a deployment attached without attachment"]++
				}
				if replaced || !kept || after.Attached {
					delete(besides, s.Name)
				}
			}
			for _, s := range next.Services {
				before, existed := prev.find(s.Name)
				if s.Attached && (!existed || !before.Attached) {
					if next.batched(s.Env) {
						seen["attach, deploy = false"]++
					} else {
						seen["attach, deploy = true"]++
					}
					// Its deployment attaches every other service of the environment.
					for _, other := range prev.Services {
						if after, kept := next.find(other.Name); other.Env == s.Env && !other.Attached && kept && !after.Attached {
							besides[other.Name] = true
						}
					}
				}
			}
			if len(next.Deployments()) > 0 {
				seen["divio_deployment"]++
			}
		}
	}
	for _, want := range []string{"attach, deploy = true", "attach, deploy = false", "divio_deployment",
		"detach, deploy = true", "detach, deploy = false", "remove attached, deploy = true", "remove attached, deploy = false",
		"replace attached, deploy = true", "replace attached, deploy = false",
		"remove a service a deployment attached without attachment", "replace a service a deployment attached without attachment"} {
		if seen[want] < 10 {
			t.Errorf("%q: %d times in 30 seeds x 200 cycles, want at least 10", want, seen[want])
		}
	}
	t.Logf("%v", seen)
}

// TestReplacementMayKeepItsOwnKey: changing postgres-15 to mysql-8 with the same prefix replaces
// an instance by one with the same (environment, type, prefix), the case the provider's
// replacedInstances exists for; the generator must produce it.
func TestReplacementMayKeepItsOwnKey(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		g := NewGenerator(seed)
		for range 200 {
			prev := g.Config()
			next, _ := g.Next(false)
			for _, s := range next.Services {
				if before, ok := prev.find(s.Name); ok && before.Service != s.Service && before.key() == s.key() {
					return
				}
			}
		}
	}
	t.Error("no replacement kept its (environment, type, prefix) in 30 seeds x 200 cycles")
}

func TestHCLBatched(t *testing.T) {
	cfg := Config{Services: []Service{
		{Name: "s1", Env: 0, Service: "postgres-15", Prefix: "MAIN", Attached: true},
		{Name: "s2", Env: 0, Service: "s3", Prefix: "DEFAULT", Attached: true},
		{Name: "s3", Env: 1, Service: "s3", Prefix: "DEFAULT", Attached: true},
		{Name: "s4", Env: 2, Service: "s3", Prefix: "DEFAULT"},
	}}
	cfg.setBatched(0, true)
	cfg.setBatched(2, true) // no attachment: no divio_deployment
	hcl := cfg.HCL()
	for _, want := range []string{
		"resource \"divio_service_attachment\" \"s1\" {\n  service_id = divio_service.s1.id\n  deploy     = false\n}",
		"resource \"divio_service_attachment\" \"s3\" {\n  service_id = divio_service.s3.id\n  deploy     = true\n}",
		"resource \"divio_deployment\" \"bench_app_1_test\" {\n  environment_id = data.divio_environment.bench_app_1_test.id\n" +
			"  triggers = {\n    attachments = join(\",\", sort([divio_service_attachment.s1.id, divio_service_attachment.s2.id]))\n  }\n}",
	} {
		if !strings.Contains(hcl, want) {
			t.Errorf("HCL lacks\n%s\nin\n%s", want, hcl)
		}
	}
	if n := strings.Count(hcl, "resource \"divio_deployment\""); n != 1 {
		t.Errorf("%d divio_deployments, want 1:\n%s", n, hcl)
	}
	short := cfg.HCLWithDeployTimeout("1s")
	if n := strings.Count(short, "  timeouts = {\n    create = \"1s\"\n  }\n"); n != 4 {
		t.Errorf("%d short timeouts, want 4 (3 attachments, 1 divio_deployment):\n%s", n, short)
	}
}

func TestHCL(t *testing.T) {
	hcl := Config{Services: []Service{
		{Name: "s1", Env: 1, Service: "postgres-15", Prefix: "MAIN", Protected: true, Attached: true},
		{Name: "s2", Env: 2, Service: "s3", Prefix: "DEFAULT"},
	}}.HCL()
	for _, want := range []string{
		`data "divio_application" "bench_app_1" {` + "\n" + `  slug = "bench-app-1"`,
		`data "divio_environment" "bench_app_2_live" {` + "\n" + `  application_id = data.divio_application.bench_app_2.id` + "\n" + `  slug           = "live"`,
		`resource "divio_service" "s1" {` + "\n" + `  environment_id      = data.divio_environment.bench_app_1_live.id` + "\n" +
			`  service             = "postgres-15"` + "\n" + `  prefix              = "MAIN"` + "\n" + `  deletion_protection = true` + "\n" + `  final_backup        = true` + "\n\n" +
			`  timeouts = {` + "\n" + `    create = "20s"` + "\n" + `    update = "90s"` + "\n" + `  }`,
		`resource "divio_service_attachment" "s1" {` + "\n" + `  service_id = divio_service.s1.id`,
		`resource "divio_service" "s2" {` + "\n" + `  environment_id      = data.divio_environment.bench_app_2_test.id`,
	} {
		if !strings.Contains(hcl, want) {
			t.Errorf("HCL lacks\n%s\nin\n%s", want, hcl)
		}
	}
	if strings.Contains(hcl, `divio_service_attachment" "s2"`) {
		t.Errorf("HCL attaches s2, which is not attached:\n%s", hcl)
	}
}

func TestHCLCopies(t *testing.T) {
	cfg := Config{Services: []Service{
		{Name: "s1", Env: 0, Service: "postgres-15", Prefix: "MAIN", Backup: 1},
		{Name: "s2", Env: 1, Service: "postgres-16", Prefix: "MAIN", CopyFrom: "s1"},
		{Name: "s3", Env: 0, Service: "postgres-15", Prefix: "CACHE", CopyFrom: "s1", CopyBackup: true},
	}}
	hcl := cfg.HCL()
	for _, want := range []string{
		"  final_backup        = true\n\n  copy_data_from = {\n    service_id = divio_service.s1.id\n  }\n\n  timeouts = {\n    create = \"20s\"\n",
		"  copy_data_from = {\n    backup_id = divio_service_backup.s1.id\n  }\n",
	} {
		if !strings.Contains(hcl, want) {
			t.Errorf("HCL lacks\n%s\nin\n%s", want, hcl)
		}
	}
	short := cfg.HCLWithTimeouts(Timeouts{ServiceUpdate: "2s", CopyCreate: "3s"})
	if n := strings.Count(short, "    update = \"2s\"\n"); n != 3 {
		t.Errorf("%d short update timeouts, want 3:\n%s", n, short)
	}
	if n := strings.Count(short, "    create = \"3s\"\n"); n != 2 {
		t.Errorf("%d short create timeouts, want 2 (the copies):\n%s", n, short)
	}
}

// TestGeneratorExercisesUpgradesRenamesAndCopies: over a few seeds the generator makes each of issue
// 22's operations in each of its forms.
func TestGeneratorExercisesUpgradesRenamesAndCopies(t *testing.T) {
	seen := map[string]int{}
	for seed := uint64(1); seed <= 30; seed++ {
		g := NewGenerator(seed)
		for cycle := range 200 {
			prev := g.Config()
			next, _ := g.Next(cycle%10 == 8)
			for _, s := range next.Services {
				before, existed := prev.find(s.Name)
				switch {
				case existed && before.Service != s.Service && engine(before.Service) == engine(s.Service):
					seen[fmt.Sprintf("upgrade, attached %t", s.Attached)]++
					if before.Protected {
						seen["upgrade, protected"]++
					}
				case existed && before.Prefix != s.Prefix && before.Service == s.Service:
					seen[fmt.Sprintf("rename, attached %t", s.Attached)]++
				case !existed && s.CopyFrom != "":
					source, _ := next.find(s.CopyFrom)
					seen[fmt.Sprintf("copy, from its backup %t", s.CopyBackup)]++
					if source.Env != s.Env {
						seen["copy into the other environment"]++
					}
					if source.Service != s.Service {
						seen["copy into a newer version"]++
					}
				}
			}
		}
	}
	for _, want := range []string{"upgrade, attached true", "upgrade, attached false", "upgrade, protected",
		"rename, attached true", "rename, attached false", "copy, from its backup false", "copy, from its backup true",
		"copy into the other environment", "copy into a newer version"} {
		if seen[want] < 10 {
			t.Errorf("%q: %d times in 30 seeds x 200 cycles, want at least 10", want, seen[want])
		}
	}
	t.Logf("%v", seen)
}
