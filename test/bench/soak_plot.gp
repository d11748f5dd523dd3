# make soak over time: jobs/s, claim p99 and the jobs table's size at the end
# of each tenth of the jobs, baton (solid) against the baseline (dashed).
#   gnuplot -e "dir='test/bin/soak'; jobs='3,000,000'; out='docs/soak.png'" test/bench/soak_plot.gp
# dir holds soak_baton.dat and soak_plain.dat from soak_report.py.
set terminal pngcairo size 1500,500 font ",10" noenhanced
set output out
set multiplot layout 1,3 title sprintf("Soak of %s jobs per system: each tenth of the jobs, at the second it ended (baton solid, baseline dashed)", jobs)
set xlabel "seconds since the start"
set xrange [0:*]
set yrange [0:*]
set grid
set key below horizontal
set bmargin 6
baton = sprintf("%s/soak_baton.dat", dir)
plain = sprintf("%s/soak_plain.dat", dir)
do for [i = 1:3] {
    label = i == 1 ? "jobs/s over the tenth" : (i == 2 ? "claim p99 (ms) over the tenth" : "jobs table + indexes + TOAST (MB)")
    set title label
    set ylabel label
    plot baton using 1:(column(i + 1)) with linespoints lc 1 dt 1 pt 7 lw 2 title "baton", \
         plain using 1:(column(i + 1)) with linespoints lc 2 dt 2 pt 6 lw 2 title "baseline"
}
unset multiplot
