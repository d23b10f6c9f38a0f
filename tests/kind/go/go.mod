// Small programs of the Kind test ground, standard library only so they build
// offline in seconds: the OCI runtime wrapper, the pause process, the CNI
// daemon and the test HTTP server.
module kfbootstrap.test/kindground

go 1.23
