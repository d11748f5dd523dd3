# jobs/s against W for baton (solid) and the plain-SQL baseline (dashed),
# one colour per finish mode, one panel per claim size n.
#   gnuplot -e "dir='test/bin/bench'; backlog='10,000'; out='docs/performance.png'" test/bench/plot.gp
# dir holds drain_n1.dat and drain_n10.dat from report.py.
set terminal pngcairo size 1200,600 font ",10" noenhanced
set output out
set multiplot layout 1,2 title sprintf("Drain of a %s-job backlog: jobs/s against workers W (baton solid, baseline dashed)", backlog)
set logscale x 2
set xtics ("1" 1, "4" 4, "16" 16)
set xrange [0.8:20]
set yrange [0:*]
set xlabel "workers W"
set ylabel "jobs/s"
set grid
set key below horizontal maxcols 3 noenhanced
set bmargin 8
set datafile missing "NaN"
modes = "complete complete_batch complete_and_claim"
do for [n in "1 10"] {
    set title sprintf("claiming n = %s per call", n)
    file = sprintf("%s/drain_n%s.dat", dir, n)
    plot for [m = 1:3] file using 1:(column(2 * m)) with linespoints lc m dt 1 pt 7 lw 2 \
             title sprintf("baton %s", word(modes, m)), \
         for [m = 1:3] file using 1:(column(2 * m + 1)) with linespoints lc m dt 2 pt 6 lw 2 \
             title sprintf("baseline %s", word(modes, m))
}
unset multiplot
