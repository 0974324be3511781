// Command composecheck validates a compose file without a Docker engine, the way `docker compose`
// itself loads it, then checks credstream's own rules. Built and run by
// deploy/tools/validate_compose.sh (see docs/deploy-compose.md).
//
//	composecheck [-project-directory DIR] [COMPOSE_FILE]
//
// Loading uses github.com/compose-spec/compose-go/v2, the library the Docker Compose CLI loads files
// with: the Compose Specification JSON Schema, `${VAR:-default}` interpolation, YAML anchors and
// merge keys, normalization, and consistency (depends_on, networks, volumes, configs and secrets must
// name things that exist; no dependency cycles). Interpolation sees no environment at all, so the
// result does not depend on the machine: every variable needs a default. Any warning the loader
// logs (an unset variable, an obsolete attribute, ...) is an error here.
//
// credstream's rules, on the loaded model:
//   - every image has an explicit tag or digest, never `latest`;
//   - every service is either a one-shot job (`restart: "no"`) or long-running: a restart policy and
//     a healthcheck, unless `x-credstream-healthcheck-exempt` gives the reason it cannot have one;
//   - `service_healthy` targets have a healthcheck, `service_completed_successfully` targets are
//     one-shot jobs;
//   - a service on the project image (entrypoint `python -m`) runs a module that exists in the
//     repository (`services/assessment/__main__.py`, `deploy/tools/topics.py`, ...);
//   - build contexts, Dockerfiles and bind-mounted files exist;
//   - no two services publish the same host port;
//   - an OpenTelemetry Collector's mounted configuration parses, and its pipelines and service
//     extensions name only components it defines.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v4"
)

const (
	composeGo = "github.com/compose-spec/compose-go/v2"
	exemptKey = "x-credstream-healthcheck-exempt"
)

var pythonModule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// warnings collects what the loader logs: a strict check fails on any of it.
type warnings struct{ messages []string }

func (w *warnings) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (w *warnings) Fire(entry *logrus.Entry) error {
	w.messages = append(w.messages, entry.Message)
	return nil
}

func main() {
	projectDir := flag.String("project-directory", ".",
		"directory relative paths resolve against (as `docker compose --project-directory`)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-project-directory DIR] [COMPOSE_FILE]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	file := "docker-compose.yml"
	if flag.NArg() == 1 {
		file = flag.Arg(0)
	} else if flag.NArg() > 1 {
		flag.Usage()
		os.Exit(2)
	}
	root, err := filepath.Abs(*projectDir)
	if err != nil {
		fail(file, []string{err.Error()})
	}
	path, err := filepath.Abs(file)
	if err != nil {
		fail(file, []string{err.Error()})
	}
	name := filepath.Base(file)

	logged := &warnings{}
	logrus.SetOutput(io.Discard)
	logrus.AddHook(logged)

	options, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(nil), // no environment: defaults only, the same result on every machine
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
		cli.WithProfiles([]string{"*"}), // every profile: check every service
	)
	if err != nil {
		fail(name, []string{err.Error()})
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		message := "compose-go: " + err.Error()
		if strings.HasSuffix(message, " false schema") {
			message += " (a key the Compose Specification does not define; custom keys start with x-)"
		}
		fail(name, []string{message})
	}
	problems := make([]string, 0, len(logged.messages))
	for _, message := range logged.messages {
		problems = append(problems, "compose-go warning: "+message)
	}
	problems = append(problems, rules(project, root)...)
	if len(problems) > 0 {
		fail(name, problems)
	}
	fmt.Printf("%s: valid for compose-go %s (Compose Specification schema, interpolation, "+
		"depends_on/volume/network references) and credstream's rules; services: %s\n",
		name, composeGoVersion(), strings.Join(project.ServiceNames(), ", "))
}

func fail(name string, problems []string) {
	for _, problem := range problems {
		fmt.Fprintf(os.Stderr, "%s: %s\n", name, problem)
	}
	fmt.Fprintf(os.Stderr, "%s: INVALID (%d problem(s))\n", name, len(problems))
	os.Exit(1)
}

func composeGoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == composeGo {
				return dep.Version
			}
		}
	}
	return "(unknown version)"
}

func rules(project *types.Project, root string) []string {
	var problems []string
	report := func(service, format string, args ...any) {
		problems = append(problems, service+": "+fmt.Sprintf(format, args...))
	}
	names := project.ServiceNames()
	sort.Strings(names)

	// Images built from this repository: their entrypoint is `python -m` (deploy/docker/Dockerfile).
	built := map[string]bool{}
	for _, s := range project.Services {
		if s.Build != nil && s.Image != "" {
			built[s.Image] = true
		}
	}
	published := map[string]string{}

	for _, name := range names {
		s := project.Services[name]

		if s.Image == "" {
			report(name, "no image: give every service an explicit image:tag (built ones too)")
		} else if ref, err := reference.ParseNormalizedNamed(s.Image); err != nil {
			report(name, "image %q: %v", s.Image, err)
		} else {
			tagged, isTagged := ref.(reference.Tagged)
			_, isDigested := ref.(reference.Digested)
			if !isTagged && !isDigested {
				report(name, "image %q has no tag: pin an explicit version", s.Image)
			} else if isTagged && tagged.Tag() == "latest" && !isDigested {
				report(name, "image %q uses `latest`: pin an explicit version", s.Image)
			}
		}

		oneShot := s.Restart == types.RestartPolicyNo
		if !oneShot {
			if s.Restart == "" {
				report(name, `no restart policy: long-running services set one (e.g. unless-stopped), `+
					`one-shot jobs set restart: "no"`)
			}
			exempt, _ := s.Extensions[exemptKey].(string)
			if (s.HealthCheck == nil || s.HealthCheck.Disable) && strings.TrimSpace(exempt) == "" {
				report(name, "long-running service without a healthcheck (or %s: <reason>)", exemptKey)
			}
		}

		deps := make([]string, 0, len(s.DependsOn))
		for dep := range s.DependsOn {
			deps = append(deps, dep)
		}
		sort.Strings(deps)
		for _, dep := range deps {
			target, ok := project.Services[dep]
			if !ok {
				report(name, "depends_on %q, which is not a service", dep)
				continue
			}
			switch s.DependsOn[dep].Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable {
					report(name, "waits for %s to be healthy, but %s has no healthcheck", dep, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != types.RestartPolicyNo {
					report(name, `waits for %s to complete, but %s is not a one-shot job (restart: "no")`, dep, dep)
				}
			}
		}

		if s.Build != nil {
			if s.Build.DockerfileInline == "" {
				dockerfile := s.Build.Dockerfile
				if dockerfile == "" {
					dockerfile = "Dockerfile"
				}
				if !filepath.IsAbs(dockerfile) {
					dockerfile = filepath.Join(s.Build.Context, dockerfile)
				}
				if _, err := os.Stat(dockerfile); err != nil {
					report(name, "build: Dockerfile %s does not exist", rel(root, dockerfile))
				}
			}
			if _, err := os.Stat(s.Build.Context); err != nil {
				report(name, "build: context %s does not exist", rel(root, s.Build.Context))
			}
		}

		if built[s.Image] && len(s.Entrypoint) == 0 && len(s.Command) > 0 {
			module := s.Command[0]
			if !pythonModule.MatchString(module) {
				report(name, "command %q: the image runs `python -m`, so the command must start with a module",
					[]string(s.Command))
			} else if !moduleExists(root, module) {
				report(name, "command runs module %s, which does not exist in the repository", module)
			}
		}

		for _, volume := range s.Volumes {
			if volume.Type == types.VolumeTypeBind {
				if _, err := os.Stat(volume.Source); err != nil {
					report(name, "bind mount %s does not exist", rel(root, volume.Source))
				}
			}
		}

		if strings.Contains(s.Image, "opentelemetry-collector") {
			for _, problem := range collectorConfig(s, root) {
				report(name, "%s", problem)
			}
		}

		for _, port := range s.Ports {
			if port.Published == "" {
				continue
			}
			key := fmt.Sprintf("%s:%s/%s", port.HostIP, port.Published, port.Protocol)
			if other, taken := published[key]; taken {
				report(name, "host port %s is already published by %s", port.Published, other)
			}
			published[key] = name
		}
	}
	return problems
}

// collectorConfig checks the configuration file an OpenTelemetry Collector service is started with
// (`--config=PATH`, bind-mounted from the repository): that it parses and that every component its
// pipelines and service extensions name is defined. The collector itself is not run here.
func collectorConfig(s types.ServiceConfig, root string) []string {
	var target string
	for i, arg := range s.Command {
		if value, ok := strings.CutPrefix(arg, "--config="); ok {
			target = value
		} else if arg == "--config" && i+1 < len(s.Command) {
			target = s.Command[i+1]
		}
	}
	if target == "" {
		return nil // the image's built-in configuration
	}
	source := ""
	for _, volume := range s.Volumes {
		if volume.Type == types.VolumeTypeBind && volume.Target == target {
			source = volume.Source
		}
	}
	if source == "" {
		return []string{fmt.Sprintf("collector configuration %s is not bind-mounted from the repository", target)}
	}
	data, err := os.ReadFile(source)
	if err != nil {
		return nil // reported as a missing bind mount
	}
	var config struct {
		Receivers  map[string]any `yaml:"receivers"`
		Processors map[string]any `yaml:"processors"`
		Exporters  map[string]any `yaml:"exporters"`
		Connectors map[string]any `yaml:"connectors"`
		Extensions map[string]any `yaml:"extensions"`
		Service    struct {
			Extensions []string `yaml:"extensions"`
			Pipelines  map[string]struct {
				Receivers  []string `yaml:"receivers"`
				Processors []string `yaml:"processors"`
				Exporters  []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	file := rel(root, source)
	if err := yaml.Unmarshal(data, &config); err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	var problems []string
	check := func(where, kind string, ids []string, defined ...map[string]any) {
		for _, id := range ids {
			found := false
			for _, components := range defined {
				if _, ok := components[id]; ok {
					found = true
				}
			}
			if !found {
				problems = append(problems, fmt.Sprintf("%s: %s names %s %q, which is not defined", file, where, kind, id))
			}
		}
	}
	if len(config.Service.Pipelines) == 0 {
		problems = append(problems, file+": no service.pipelines")
	}
	check("service.extensions", "extension", config.Service.Extensions, config.Extensions)
	pipelines := make([]string, 0, len(config.Service.Pipelines))
	for pipeline := range config.Service.Pipelines {
		pipelines = append(pipelines, pipeline)
	}
	sort.Strings(pipelines)
	for _, pipeline := range pipelines {
		p := config.Service.Pipelines[pipeline]
		where := "pipeline " + pipeline
		if len(p.Receivers) == 0 || len(p.Exporters) == 0 {
			problems = append(problems, fmt.Sprintf("%s: %s needs receivers and exporters", file, where))
		}
		check(where, "receiver", p.Receivers, config.Receivers, config.Connectors)
		check(where, "processor", p.Processors, config.Processors)
		check(where, "exporter", p.Exporters, config.Exporters, config.Connectors)
	}
	return problems
}

// moduleExists tells whether `python -m module` finds the module in the repository (a module file,
// or a package with __main__.py).
func moduleExists(root, module string) bool {
	base := filepath.Join(root, filepath.FromSlash(strings.ReplaceAll(module, ".", "/")))
	for _, candidate := range []string{base + ".py", filepath.Join(base, "__main__.py")} {
		if info, err := os.Stat(candidate); err == nil && info.Mode().IsRegular() {
			return true
		}
	}
	return false
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
