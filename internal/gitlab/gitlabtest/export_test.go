package gitlabtest

// EnvironmentSlug exposes the slug algorithm to the external tests.
var EnvironmentSlug = environmentSlug
