module clientlb.test/paymentclient

go 1.19
