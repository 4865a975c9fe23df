# vk's RSS over a soak (tests/bench/soak_rss.sh):
#   gnuplot -e "data='F.dat'; out='F.png'; warmup=300; lo=KIB; hi=KIB; n=PODS" soak_rss.gp
# data: "seconds rss_kib pods created deleted quiet"; [lo, hi]: the quiet
# samples after warmup.
set terminal pngcairo size 1200,700 noenhanced
set output out
set multiplot layout 2,1 title sprintf("vk RSS while %d mock pods churn (tests/bench/soak_rss.sh)", n)
set grid
set xlabel "seconds since the first create"
set ylabel "RSS (MiB)"
set key top left
set arrow from warmup, graph 0 to warmup, graph 1 nohead dt 2 lc rgb "#7f7f7f"
plot data using 1:($2/1024.0) with lines lw 1 lc rgb "#9ecae1" title "VmRSS, every 5 s (churning)", \
     data using 1:($6 == 1 ? $2/1024.0 : 1/0) with linespoints pt 7 lw 2 lc rgb "#1f77b4" title sprintf("VmRSS at quiet moments (%d pods Running)", n), \
     lo/1024.0 with lines dt 3 lc rgb "#2ca02c" title "quiet lowest after warm-up", \
     hi/1024.0 with lines dt 3 lc rgb "#d62728" title "quiet highest after warm-up"
unset arrow
set ylabel "pods"
plot data using 1:3 with lines lw 2 lc rgb "#ff7f0e" title "pods existing (API)"
unset multiplot
