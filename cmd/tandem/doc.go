// Command tandem keeps an e-commerce storefront database and an ERP database
// in step, in both directions, through Kafka.
//
// This is the only package that reads flags, files and the environment: it
// loads the config file (mapping.Load), builds each component from its
// section and runs them. Subcommands:
//
//	tandem check    verify every prerequisite, with the fix for each failure
//	tandem config   validate, show or document the config file
//	tandem version  print the version
package main
