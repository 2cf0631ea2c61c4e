package provider

// testStem starts the prefix of every service instance, and the notes of every backup, that the
// acceptance tests create on a real account; the sweepers remove nothing else.
const testStem = "TFACC_"

// testPrefix is the prefix for an instance a test calls name. Against a real account it is name
// behind testStem, so that the sweepers can remove the instance if the test leaves it behind
// (DEFAULT is what real projects use). Against a simulator, which serves the test alone, it is
// name itself, so that tests of what DEFAULT does (its DATABASE_URL alias) assert what users get;
// such tests run only against a simulator.
func testPrefix(name string) string {
	if useRealAPI() {
		return testStem + name
	}
	return name
}
