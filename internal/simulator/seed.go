package simulator

import (
	"fmt"
	"time"
)

// seedTime is when the seeded instances were made; fixed, so that they read
// the same in every run.
var seedTime = time.Date(2019, 4, 2, 9, 0, 0, 0, time.UTC)

// seedDeployDuration is how long the deployment that attached them took.
const seedDeployDuration = 3 * time.Minute

// seed makes the data set's seeded instances the way a client would: add
// each, and deploy each environment once, which provisions and attaches them.
// Only the ids are then replaced by stable ones. A data set that cannot be seeded is a programming
// error, caught by its tests.
func (st *state) seed() {
	var envs []seed // one per environment, in order
	for _, sd := range st.data.seeds {
		in, err := st.createInstance(createInstanceRequest{
			Environment: EnvironmentID(sd.app, sd.env), Service: ServiceID(sd.identifier), Prefix: sd.prefix,
		}, seedTime)
		if err != nil {
			panic(fmt.Sprintf("seed %+v: %v", sd, err))
		}
		in.UUID = SeedInstanceID(sd.app, sd.env, sd.identifier, sd.prefix)
		if len(envs) == 0 || envs[len(envs)-1].app != sd.app || envs[len(envs)-1].env != sd.env {
			envs = append(envs, sd)
		}
	}
	delay := st.deployDelay
	st.deployDelay = seedDeployDuration
	defer func() { st.deployDelay = delay }()
	for _, sd := range envs {
		d, err := st.createDeployment(createDeploymentRequest{Environment: EnvironmentID(sd.app, sd.env)}, seedTime.Add(time.Minute))
		if err != nil {
			panic(fmt.Sprintf("seed deployment of %s/%s: %v", sd.app, sd.env, err))
		}
		d.UUID = SeedDeploymentID(sd.app, sd.env)
	}
	st.advance(seedTime.Add(time.Hour))
}
