# The module refuses a prefix that Divio would refuse, before anything is planned.
run "refuses_a_lower_case_prefix" {
  command = plan

  variables {
    application = "demo-app"
    databases   = ["reporting"]
  }

  expect_failures = [var.databases]
}
