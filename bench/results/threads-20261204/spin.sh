cd /work/main
for rep in 1 2; do
for s in PASSIVE 3000 10000 30000 100000 DEFAULT; do
  if [ $s = PASSIVE ]; then E="OMP_WAIT_POLICY=PASSIVE"; elif [ $s = DEFAULT ]; then E="OMP_WAIT_POLICY=X_unset"; else E="GOMP_SPINCOUNT=$s"; fi
  for m in "mobilenetv2_imagenet 2 64" "efficientnet_lite0_imagenet 0 64" "etnas_z3 0 32" "etnas_z1 0 32"; do
    env $E .venv/bin/python /tmp/ana/step.py $m 10 2>/dev/null | sed "s/^/{\"s\":\"$s\",\"mode\":\"idle\",\"r\":$rep,\"x\":/; s/$/}/"
  done
  env $E .venv/bin/python /tmp/ana/step.py etnas_z1 0 32 12 2>/dev/null | sed "s/^/{\"s\":\"$s\",\"mode\":\"pair\",\"r\":$rep,\"x\":/; s/$/}/" &
  env $E .venv/bin/python /tmp/ana/step.py mobilenetv2_imagenet 2 64 12 2>/dev/null | sed "s/^/{\"s\":\"$s\",\"mode\":\"pair\",\"r\":$rep,\"x\":/; s/$/}/"
  wait
done
done
